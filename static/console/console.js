// The console page: noVNC against /ws/console/, a fresh one-time token for every connection. The token travels as
// a WebSocket subprotocol beside `binary` (never in a URL, so no access log holds it). The first token may come in
// the page's URL fragment (the API's `console_url`): it is used once and taken out of the address bar.
//
// Why the close code comes from our own WebSocket: noVNC 1.7's "disconnect" event only says
// `clean`; it reads the code and reason of the socket's close event internally and keeps them.
// The RFB constructor accepts an open-or-opening WebSocket instead of a URL (its public
// "urlOrChannel" argument), so we create the socket ourselves, listen to its "close" event,
// and learn the relay's code (4410, 4004, ...) and reason text without touching noVNC internals.
// Because we make the socket, we ask for the `binary` subprotocol here (what `wsProtocols` does
// when noVNC makes it).

const root = document.getElementById("console");
const { default: RFB } = await import(root.dataset.rfbModule);

const $ = (id) => document.getElementById(id);
const statusLine = $("console-status");
const screen = $("screen");
const guestState = $("guest-state");
const reconnectButton = $("reconnect");
const startButton = $("start-guest");
const ctrlAltDelButton = $("ctrl-alt-del");
const scaleSelect = $("scale");
const fullscreenButton = $("fullscreen");
const typePanel = $("type-panel");
const typeText = $("type-text");
const typeSend = $("type-send");
const clipboardPanel = $("clipboard-panel");
const clipboardText = $("clipboard-text");
const clipboardSend = $("clipboard-send");

// Close codes of console/relay.py's CloseReason, {NAME: {code, final}}, from the page: after a final one
// another try cannot help (Proxmox refused the login, guest not running, ended by an administrator, ...).
const CLOSE_CODES = JSON.parse(root.dataset.closeCodes);
const FINAL_CLOSE_CODES = new Set(Object.values(CLOSE_CODES).filter((r) => r.final).map((r) => r.code));
// API answers that a new token request would only repeat (logged out, forbidden, no such guest, not running).
const FINAL_HTTP_STATUSES = new Set([401, 403, 404, 409]);
const FIRST_RETRY_MS = 1000;
// The portal process this console ran on is restarting (console/flow.py): another one takes it at once, through the
// balancer; a little jitter keeps its consoles from all arriving in the same instant.
const RESTART_RETRY_MS = 500;
const MAX_RETRY_MS = 30000;
// A connection that lasted this long was a success: the backoff starts over after it.
const STABLE_MS = 10000;
const SCALE_STORAGE_KEY = "nexus.console.scale";

let current = null; // {rfb, socket, connected, connectedAt} of the connection in use
let handedToken = takeHandedToken(); // the token of the URL's fragment, for the first connection only
let attempt = 0; // failed tries since the last stable connection
let retryTimer = null;
let leaving = false;
let modifiersHeld = false;

function takeHandedToken() {
    const token = new URLSearchParams(location.hash.slice(1)).get("token");
    if (token) history.replaceState(null, "", location.pathname + location.search);
    return token;
}

function setStatus(state, text) {
    statusLine.dataset.state = state;
    statusLine.className = `console-status ${state}`;
    statusLine.textContent = text;
    screen.dataset.message = state === "connected" ? "" : text;
}

function setConnectedControls(connected) {
    for (const button of [ctrlAltDelButton, typeSend, clipboardSend]) {
        button.disabled = !connected;
    }
}

function setGuestState(status) {
    if (!guestState) return;
    guestState.textContent = status;
    guestState.className = `status ${status}`;
}

async function refreshGuestState() {
    if (!guestState) return;
    try {
        const response = await fetch(root.dataset.guestApi, { headers: { Accept: "application/json" } });
        if (!response.ok) return;
        setGuestState((await response.json()).status);
    } catch {
        // The state shown stays as it was; the status line already says what went wrong.
    }
}

// The relay sends its reason text with the close code (console/flow.py passes it on).
const CONNECTION_LOST = 1006;

function describeClose(event) {
    if (event.reason) return event.reason;
    if (event.code === CONNECTION_LOST) return "The connection to the portal was lost.";
    return `The console connection closed (code ${event.code}).`;
}

function stop(text) {
    setStatus("ended", text);
    reconnectButton.hidden = false;
    refreshGuestState();
}

// A stopped guest: offer Start where the user may start it (the page names the power API then), follow the
// Proxmox task's progress, and connect once the guest runs.
const TASK_POLL_MS = 1000;

function notRunning(text) {
    setStatus("ended", text);
    setGuestState("stopped");
    startButton.hidden = !root.dataset.powerApi;
    reconnectButton.hidden = !startButton.hidden;
}

async function api(url, options = {}) {
    const response = await fetch(url, {
        ...options,
        headers: { "X-CSRFToken": root.dataset.csrfToken, Accept: "application/json", ...options.headers },
        cache: "no-store",
    });
    return { response, body: await response.json().catch(() => ({})) };
}

async function startGuest() {
    startButton.hidden = true;
    reconnectButton.hidden = true;
    setStatus("connecting", `Starting ${root.dataset.guestName}…`);
    let answer;
    try {
        answer = await api(root.dataset.powerApi, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ action: "start" }),
        });
    } catch {
        notRunning("The portal is unreachable; the guest was not started.");
        return;
    }
    if (answer.response.status !== 202) {
        notRunning(answer.body.detail || `The guest could not be started (HTTP ${answer.response.status}).`);
        return;
    }
    followTask(answer.body.task_url);
}

async function followTask(url) {
    let answer;
    try {
        answer = await api(url);
    } catch {
        answer = { response: { ok: true }, body: {} }; // the portal did not answer this time: ask again
    }
    const task = answer.body;
    if (!answer.response.ok) {
        notRunning(task.detail || `The start could not be followed (HTTP ${answer.response.status}).`);
        return;
    }
    if (task.status !== "stopped") {
        const line = task.log?.length ? task.log[task.log.length - 1].t : "";
        setStatus("connecting", `Starting ${root.dataset.guestName}…${line ? ` ${line}` : ""}`);
        setTimeout(() => followTask(url), TASK_POLL_MS);
        return;
    }
    if (task.exitstatus !== "OK") {
        notRunning(`Start failed: ${task.exitstatus || "Proxmox gave no reason."}`);
        return;
    }
    setGuestState("running");
    attempt = 0;
    connect();
}

function retry(text, firstMs = FIRST_RETRY_MS) {
    const delay = Math.min(MAX_RETRY_MS, firstMs * 2 ** attempt) * (0.5 + Math.random());
    attempt += 1;
    const seconds = Math.round(delay / 1000);
    setStatus("disconnected", `${text} ${seconds ? `Reconnecting in ${seconds} s…` : "Reconnecting…"}`);
    reconnectButton.hidden = false;
    retryTimer = setTimeout(connect, delay);
}

async function requestTicket() {
    const response = await fetch(root.dataset.consoleApi, {
        method: "POST",
        headers: { "X-CSRFToken": root.dataset.csrfToken, Accept: "application/json" },
        cache: "no-store",
    });
    const body = await response.json().catch(() => ({}));
    return { response, body };
}

// A token from the API, or null when the page must not go on (it said why).
async function fetchToken() {
    let answer;
    try {
        answer = await requestTicket();
    } catch {
        retry("The portal is unreachable.");
        return null;
    }
    const { response, body } = answer;
    if (response.ok) return body.websocket_protocols.find((name) => name.startsWith(root.dataset.tokenProtocol));
    const text = body.detail || `The console could not be opened (HTTP ${response.status}).`;
    if (body.code === "guest_not_running") notRunning(text);
    else if (FINAL_HTTP_STATUSES.has(response.status)) stop(text);
    else retry(text); // e.g. 503: consoles are temporarily unavailable (no ticket was spent)
    return null;
}

async function connect() {
    clearTimeout(retryTimer);
    reconnectButton.hidden = true;
    setStatus("connecting", attempt ? `Reconnecting (try ${attempt + 1})…` : "Connecting…");
    const protocol = handedToken ? `${root.dataset.tokenProtocol}${handedToken}` : await fetchToken();
    handedToken = null;
    if (!protocol) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}${root.dataset.websocketPath}`, ["binary", protocol]);
    const connection = { socket, rfb: null, connected: false, connectedAt: 0 };
    socket.addEventListener("close", (event) => closed(connection, event));
    connection.rfb = new RFB(screen, socket, { shared: true });
    connection.rfb.scaleViewport = scaleSelect.value === "fit";
    connection.rfb.showDotCursor = true;
    connection.rfb.addEventListener("connect", () => opened(connection));
    connection.rfb.addEventListener("clipboard", (event) => {
        clipboardText.value = event.detail.text;
    });
    current = connection;
}

function opened(connection) {
    if (connection !== current) return;
    connection.connected = true;
    connection.connectedAt = Date.now();
    setStatus("connected", "Connected");
    setConnectedControls(true);
    if (!document.activeElement || document.activeElement === document.body) connection.rfb.focus();
}

function closed(connection, event) {
    if (connection !== current || leaving) return;
    current = null;
    setConnectedControls(false);
    if (connection.connected && Date.now() - connection.connectedAt >= STABLE_MS) attempt = 0;
    const text = describeClose(event);
    if (event.code === CLOSE_CODES.GUEST_NOT_RUNNING.code) notRunning(text);
    else if (FINAL_CLOSE_CODES.has(event.code)) stop(text);
    else if (event.code === CLOSE_CODES.SERVICE_RESTARTING.code) {
        attempt = 0;
        retry(text, RESTART_RETRY_MS);
    } else retry(text);
}

// Keysyms for typing text: Latin-1 characters are their own keysym, any other Unicode character
// is 0x01000000 + its code point; newline and tab are the Return and Tab keys. Sending the
// keysym alone (no Shift) is enough for QEMU, which maps keysyms to keys itself.
const SPECIAL_KEYSYMS = { "\n": 0xff0d, "\t": 0xff09 };

function keysymFor(char) {
    if (char in SPECIAL_KEYSYMS) return SPECIAL_KEYSYMS[char];
    const code = char.codePointAt(0);
    if ((code >= 0x20 && code <= 0x7e) || (code >= 0xa0 && code <= 0xff)) return code;
    if (code > 0xff) return 0x01000000 + code;
    return null; // other control characters have no key
}

function typeIntoGuest(text) {
    if (!current?.connected) return;
    const { rfb } = current;
    for (const char of text.replace(/\r\n?/g, "\n")) {
        const keysym = keysymFor(char);
        if (keysym === null) continue;
        rfb.sendKey(keysym, null, true);
        rfb.sendKey(keysym, null, false);
    }
    rfb.focus();
}

function waitForModifiersReleased(timeoutMs = 3000) {
    // Ctrl+Shift are down on the guest too while the shortcut is held: type only after they are up.
    return new Promise((resolve) => {
        const deadline = Date.now() + timeoutMs;
        const check = () => (!modifiersHeld || Date.now() > deadline ? resolve() : setTimeout(check, 20));
        check();
    });
}

async function typeClipboard() {
    let text = null;
    try {
        text = await navigator.clipboard.readText();
    } catch {
        // Not allowed (or not a secure context): the user pastes into the box instead.
    }
    if (text === null) {
        togglePanel(typePanel, true);
        typeText.focus();
        return;
    }
    await waitForModifiersReleased();
    typeIntoGuest(text);
}

function togglePanel(panel, show = panel.hidden) {
    panel.hidden = !show;
    document.querySelector(`[aria-controls="${panel.id}"]`).setAttribute("aria-expanded", String(show));
}

function trackModifiers(event) {
    modifiersHeld = event.ctrlKey || event.shiftKey || event.altKey || event.metaKey;
}

document.addEventListener("keyup", trackModifiers, true);
document.addEventListener(
    "keydown",
    (event) => {
        trackModifiers(event);
        const shortcut = event.ctrlKey && event.shiftKey && !event.altKey && !event.metaKey && event.code === "KeyV";
        // In our own text boxes Ctrl+Shift+V keeps its usual meaning.
        if (!shortcut || !current?.connected || event.target.closest("input, textarea, select")) return;
        // Capture phase: noVNC never sees the V, so the guest does not get it.
        event.preventDefault();
        event.stopPropagation();
        typeClipboard();
    },
    true,
);
window.addEventListener("blur", () => {
    modifiersHeld = false;
});

ctrlAltDelButton.addEventListener("click", () => {
    current?.rfb.sendCtrlAltDel();
    current?.rfb.focus();
});
$("toggle-type").addEventListener("click", () => togglePanel(typePanel));
$("toggle-clipboard").addEventListener("click", () => togglePanel(clipboardPanel));
typeSend.addEventListener("click", () => typeIntoGuest(typeText.value));
clipboardSend.addEventListener("click", () => {
    if (current?.connected) current.rfb.clipboardPasteFrom(clipboardText.value);
});
startButton.addEventListener("click", startGuest);
reconnectButton.addEventListener("click", () => {
    attempt = 0;
    if (current) return; // still connected or connecting
    connect();
});

scaleSelect.value = localStorage.getItem(SCALE_STORAGE_KEY) || "fit";
scaleSelect.addEventListener("change", () => {
    localStorage.setItem(SCALE_STORAGE_KEY, scaleSelect.value);
    if (current) current.rfb.scaleViewport = scaleSelect.value === "fit";
});

fullscreenButton.addEventListener("click", () => {
    if (document.fullscreenElement) document.exitFullscreen();
    else root.requestFullscreen();
});
document.addEventListener("fullscreenchange", () => {
    fullscreenButton.textContent = document.fullscreenElement ? "Exit fullscreen" : "Fullscreen";
});

window.addEventListener("pagehide", () => {
    leaving = true;
    current?.rfb.disconnect();
});

if (root.dataset.guestStatus === "running") connect();
else notRunning(`${root.dataset.guestName} is not running.`);
