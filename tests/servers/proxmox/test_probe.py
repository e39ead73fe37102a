"""servers.proxmox.probe: the connection test, step by step, against simulated healthy, wrong-token, wrong-fingerprint,
unpinned, slow, hanging and unreachable servers. The token never goes to a server whose TLS identity did not verify."""

import re
import socket

import pytest

from servers import proxmox
from servers.proxmox import probe
from tests.servers.proxmox.conftest import FINGERPRINT, free_port

BROKER_ONLY = {"VM.Audit", "VM.PowerMgmt", "VM.Console"}
SECRET = "0e2f3c4d-5a6b-4c7d-8e9f-0a1b2c3d4e5f"


def settings(pve, **overrides):
    return {**pve.connection_settings(), "timeout": 2.0, **overrides}


def run(settings) -> dict[str, probe.Step]:
    steps = list(proxmox.connection_test(settings))
    assert [step.key for step in steps] == list(probe.STEPS)
    return {step.key: step for step in steps}


def outcomes(steps: dict[str, probe.Step]) -> list[str]:
    return [step.outcome for step in steps.values()]


def test_a_healthy_server_passes_every_step_with_its_figures(pve):
    pve.add_token("nexus@pve!broker", SECRET, BROKER_ONLY)
    steps = run(settings(pve, token_id="nexus@pve!broker", token_secret=SECRET))
    assert outcomes(steps) == ["ok"] * 5
    assert steps["connect"].details["address"] == "127.0.0.1"
    tls = steps["tls"].details
    assert tls["fingerprint"] == pve.fingerprint and tls["matches_pin"] is True
    assert "PVE Cluster Node" in tls["subject"] and not tls["expired"]
    assert steps["token"].details["response_time_ms"] == steps["token"].elapsed_ms
    assert steps["version"].details == {"version": "9.1.1", "nodes": 3, "online_nodes": 3}
    assert steps["version"].message == "Proxmox VE 9.1.1, 3 nodes (3 online)."
    result = proxmox.result_of(list(steps.values()))
    assert result["outcome"] == "ok" and result["response_time_ms"] == steps["token"].elapsed_ms


def test_a_token_with_too_many_privileges_is_a_warning_naming_them(pve):
    steps = run(settings(pve))  # the simulator's own token may do everything
    assert steps["privileges"].outcome == "warning"
    assert "Sys.Modify" in steps["privileges"].details["excessive"]
    assert proxmox.outcome_of(list(steps.values())) == "warning"


def test_a_token_missing_what_the_broker_needs_fails_that_step(pve):
    pve.add_token("nexus@pve!audit", SECRET, {"VM.Audit"})
    steps = run(settings(pve, token_id="nexus@pve!audit", token_secret=SECRET))
    assert steps["privileges"].outcome == "failed"
    assert steps["privileges"].details["missing"] == ["VM.PowerMgmt", "VM.Console"]


def test_a_wrong_token_fails_and_stops_there(pve):
    steps = run(settings(pve, token_secret=SECRET))
    assert outcomes(steps) == ["ok", "ok", "failed", "skipped", "skipped"]
    assert "refused the API token" in steps["token"].message
    assert steps["version"].message == "Not tried: the token was refused."


def test_a_wrong_fingerprint_stops_before_the_token_is_sent(pve, monkeypatch):
    sent = []
    monkeypatch.setattr(proxmox.ProxmoxClient, "_request", lambda *args, **kwargs: sent.append(args))
    steps = run(settings(pve, fingerprint=FINGERPRINT))
    assert outcomes(steps) == ["ok", "failed", "skipped", "skipped", "skipped"]
    assert f"expected {FINGERPRINT}, the server presented {pve.fingerprint}" in steps["tls"].message
    assert steps["tls"].details["matches_pin"] is False
    assert "only ever sent to a server whose TLS identity was verified" in steps["token"].message
    assert sent == []


def test_without_a_pin_the_presented_fingerprint_is_shown_and_nothing_pinned_or_sent(pve, monkeypatch):
    sent = []
    monkeypatch.setattr(proxmox.ProxmoxClient, "_request", lambda *args, **kwargs: sent.append(args))
    steps = run(settings(pve, fingerprint=""))
    assert outcomes(steps) == ["ok", "failed", "skipped", "skipped", "skipped"]
    assert steps["tls"].details["fingerprint"] == pve.fingerprint
    assert steps["tls"].details["matches_pin"] is None and steps["tls"].details["pinned"] == ""
    assert f"The server presents {pve.fingerprint}" in steps["tls"].message
    assert sent == []


def test_system_trust_refuses_the_self_signed_cluster_and_shows_what_it_presents(pve):
    steps = run(settings(pve, tls_mode="system", fingerprint=""))
    assert outcomes(steps) == ["ok", "failed", "skipped", "skipped", "skipped"]
    assert "is not trusted" in steps["tls"].message
    assert steps["tls"].details["verified"] is False
    assert steps["tls"].details["fingerprint"] == pve.fingerprint


def test_the_cluster_ca_verifies_the_server(pve):
    steps = run(settings(pve, tls_mode="ca", ca_pem=pve.ca_pem, fingerprint=""))
    assert steps["tls"].outcome == "ok" and steps["tls"].details["verified"] is True
    assert "trusted by the given CA certificate" in steps["tls"].message
    assert steps["token"].outcome == "ok"


def test_a_slow_server_passes_and_its_response_time_shows_it(pve):
    pve.faults.latency = 0.3
    steps = run(settings(pve))
    assert steps["token"].outcome == "ok"
    assert steps["token"].elapsed_ms >= 300


def test_a_hanging_server_times_out_at_the_token_step(pve):
    pve.faults.hang = True
    steps = run(settings(pve, timeout=1.0))
    assert outcomes(steps) == ["ok", "ok", "failed", "skipped", "skipped"]
    # The read timeout or the call's whole budget, whichever a busy machine reaches first.
    assert re.search(r"did not answer (completely )?within 1 s", steps["token"].message)
    assert steps["version"].message == "Not tried: the server did not answer."


def test_a_server_that_never_speaks_tls_times_out_at_tls(pve):
    with socket.create_server(("127.0.0.1", 0)) as silent:
        steps = run(settings(pve, port=silent.getsockname()[1], timeout=1.0))
    assert outcomes(steps) == ["ok", "failed", "skipped", "skipped", "skipped"]


@pytest.mark.parametrize(
    "overrides, why",
    [
        ({"port": "a free one"}, "connection refused"),
        ({"host": "no-such-host.invalid"}, "Cannot resolve the host name"),
        ({"denied_networks": ("127.0.0.0/8",)}, "where servers may not be reached"),
    ],
)
def test_an_unreachable_server_fails_at_connect(pve, overrides, why):
    if overrides.get("port"):
        overrides = {"port": free_port()}  # taken now, not when the tests were collected
    steps = run(settings(pve, **overrides))
    assert outcomes(steps) == ["failed"] + ["skipped"] * 4
    assert why in steps["connect"].message.replace("Connection refused", "connection refused")
    assert steps["tls"].message == "Not tried: the server is not reachable."


def test_steps_come_one_by_one_as_they_complete(pve, monkeypatch):
    handshakes = []
    real = probe.presented_certificate
    monkeypatch.setattr(probe, "presented_certificate", lambda *args: handshakes.append(1) or real(*args))
    steps = proxmox.connection_test(settings(pve))
    assert next(steps).key == "connect"
    assert handshakes == []  # TLS waits until the next step is asked for
    assert next(steps).key == "tls"
    assert handshakes == [1]


def test_unusable_settings_are_refused_before_any_step():
    with pytest.raises(proxmox.ConfigurationError):
        next(proxmox.connection_test({"host": "pve", "token_id": "root", "token_secret": "x"}))
