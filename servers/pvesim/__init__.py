"""A Proxmox VE simulator: HTTPS API, console WebSockets, an RFB server and termproxy.

with Simulator(servers=2) as sim:
    srv = sim.servers[0]
    srv.base_url, srv.fingerprint, srv.token_id, srv.token_secret
"""

from .config import load_config
from .simulator import Faults, SimServer, Simulator
from .state import SimGuest

__all__ = ["Faults", "SimGuest", "SimServer", "Simulator", "load_config"]
