"""How much a console may hold in memory on its way through us: every bound of the console's flow, in one place.

A console's bytes pass three layers of ours, and each has one bound; when it is reached, that layer stops reading
from the side that sends too fast, and the layer before it (or TCP) holds that side back in turn:

    browser -> daphne (console.flow) -> consumer -> relay (console.endpoints, console.relay) -> Proxmox

1. BROWSER_INPUT_QUEUE, console.flow: browser messages daphne has read but the consumer has not taken yet. Stock
   daphne keeps them without limit. The consumer takes the next one as soon as the relay has room (3.), so this
   queue only bridges the hand-over; a quarter MiB is several of the largest messages a browser sends. Past it
   daphne stops reading the browser's socket, and reads on once half of it was taken.
2. RELAY_INPUT_QUEUE, console.endpoints.QueueEndpoint: browser input the consumer took but the relay has not yet
   passed to Proxmox, because Proxmox reads slowly. It absorbs bursts of input (text typed into the guest is two
   KeyEvents a character) without pausing the browser, and bounds what a stuck Proxmox costs per console. Past it
   the consumer stops taking messages from daphne, so 1. fills.
3. RELAY_OUTPUT_BUFFER, console.relay.RelayLimits.browser_buffer: bytes from Proxmox held while the browser is busy;
   they leave as one message once it is ready, and fewer, larger sends cost less under load (bench/relay.py).
   Two of Proxmox's largest frames (128 KiB each). Past it the relay stops reading Proxmox: websockets then keeps
   at most 16 frames and stops reading the socket, and TCP holds Proxmox back.

Not ours to choose, and bounded already: Twisted's write buffer towards the browser (64 KiB; console.flow makes
`websocket.send` wait while it is full), daphne's largest browser message (1 MiB) and the largest frame we accept
from Proxmox (servers.proxmox.console.WEBSOCKET_MAX_SIZE).

Framework-free: no Django, so the relay, console.flow and the benchmarks import it alike.
"""

# What a queued browser message costs beyond its payload, in 1. and 2., so that a flood of tiny messages is
# bounded as well as a few big ones. In daphne's queue a message is a dict (about 184 bytes), its bytes object's
# header (33) and the queue's slot (8); in the relay's queue only the last two. One conservative figure for both:
# it overstates the relay's queue, which then pauses a flood of tiny messages sooner, and never understates either.
MESSAGE_COST = 256

BROWSER_INPUT_QUEUE = 256 * 1024
RELAY_INPUT_QUEUE = 1024 * 1024
RELAY_OUTPUT_BUFFER = 256 * 1024
