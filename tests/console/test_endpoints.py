"""The relay's endpoints: Proxmox's side reports its keepalives' round trips."""

import asyncio

from console.endpoints import UpstreamEndpoint


class PongingStream:
    """A console stream whose pings are answered after `latency` seconds."""

    def __init__(self, latency: float) -> None:
        self.latency = latency

    async def ping(self) -> asyncio.Future:
        pong = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(self.latency, pong.set_result, self.latency)
        return pong


async def test_a_keepalive_reports_its_round_trip_once_the_pong_arrived():
    round_trips = []
    endpoint = UpstreamEndpoint(PongingStream(0.01), on_round_trip=round_trips.append)
    await endpoint.ping()
    assert round_trips == [], "the ping does not wait for its pong"
    await asyncio.sleep(0.05)
    assert round_trips == [0.01]
