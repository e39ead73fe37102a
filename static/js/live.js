// Live updates: a page listens to its tenant's events (/ws/tenants/<slug>/events/, nexus/events.py) and changes
// without a reload. Loaded by pages that include templates/includes/live.html. Markup:
//   data-live-stream="/ws/…/events/"   a stream to open (one per tenant the page shows); reconnects with back-off
//   data-live-on="server.status console."   on an element with hx-get and hx-trigger="nexus:live": htmx fetches it
//                                     again after an event of those kinds ("console." is every console.* kind),
//                                     bursts coalesced; and after a reconnection, so the page catches up on the gap.
//                                     Give it hx-disinherit="*" where it holds htmx elements of its own.
//   data-live-hold=".selector"        the element's refetch waits while it holds a match (a row busy with its task)
//   data-server-status="<id>"         a status pill that follows the server's status in place
//   data-live-state                   says whether the page is live (its data-state: connecting, live, offline, ended)
// Scripts subscribe with NexusLive.on(kind, (data, kind) => …).
(() => {
    const FIRST_DELAY_MS = 1000;
    const MAX_DELAY_MS = 30000;
    const COALESCE_MS = 400;
    const ACCESS_GONE = 4403; // nexus.events: the user no longer reaches the tenant; reconnecting would not help
    const STATE_TEXT = { connecting: "Connecting…", live: "Live", offline: "Reconnecting…", ended: "Not live" };

    const handlers = new Map(); // kind -> [handler]
    const states = new Map(); // stream element -> state

    function on(kind, handler) {
        handlers.set(kind, [...(handlers.get(kind) || []), handler]);
    }

    function listensTo(element, kind) {
        return element.dataset.liveOn
            .split(/\s+/)
            .some((wanted) => wanted === kind || (wanted.endsWith(".") && kind.startsWith(wanted)));
    }

    const waiting = new WeakSet();

    function refetch(element) {
        if (waiting.has(element)) return;
        waiting.add(element);
        setTimeout(function fire() {
            const hold = element.dataset.liveHold;
            if (hold && element.isConnected && element.querySelector(hold)) {
                setTimeout(fire, COALESCE_MS);
                return;
            }
            waiting.delete(element);
            if (element.isConnected) htmx.trigger(element, "nexus:live");
        }, COALESCE_MS);
    }

    function dispatch(kind, data) {
        for (const handler of handlers.get(kind) || []) handler(data, kind);
        for (const element of document.querySelectorAll("[data-live-on]")) {
            if (listensTo(element, kind)) refetch(element);
        }
    }

    function catchUp() {
        for (const element of document.querySelectorAll("[data-live-on]")) refetch(element);
    }

    function showState(stream, state) {
        states.set(stream, state);
        const all = [...states.values()];
        const shown = ["ended", "offline", "connecting"].find((worst) => all.includes(worst)) || "live";
        for (const indicator of document.querySelectorAll("[data-live-state]")) {
            indicator.dataset.state = shown;
            indicator.textContent = STATE_TEXT[shown];
        }
    }

    function connect(stream) {
        const url = new URL(stream.dataset.liveStream, location.href);
        url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
        let delay = FIRST_DELAY_MS;
        let openedBefore = false;

        function open() {
            const socket = new WebSocket(url);
            socket.addEventListener("open", () => {
                if (openedBefore) catchUp(); // events of the gap were missed: fetch what shows them
                openedBefore = true;
                delay = FIRST_DELAY_MS;
                showState(stream, "live");
            });
            socket.addEventListener("message", (event) => {
                const { kind, data } = JSON.parse(event.data);
                dispatch(kind, data);
            });
            socket.addEventListener("close", (event) => {
                if (event.code === ACCESS_GONE) {
                    showState(stream, "ended");
                    return;
                }
                showState(stream, openedBefore ? "offline" : "connecting");
                setTimeout(open, delay / 2 + Math.random() * (delay / 2)); // jitter: not every page at once
                delay = Math.min(delay * 2, MAX_DELAY_MS);
            });
        }

        showState(stream, "connecting");
        open();
    }

    on("server.status", ({ server, status }) => {
        for (const pill of document.querySelectorAll(`[data-server-status="${server}"]`)) {
            pill.className = `status ${status}`;
            pill.textContent = status.charAt(0).toUpperCase() + status.slice(1);
        }
    });

    window.NexusLive = { on };
    for (const stream of document.querySelectorAll("[data-live-stream]")) connect(stream);
})();
