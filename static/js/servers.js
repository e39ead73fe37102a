// The server form's Test connection: the API answers a line of JSON per step as it completes
// (application/x-ndjson), and each is shown at once. When the TLS step reports the fingerprint the server presents
// and it is not (or not correctly) pinned, "Use this fingerprint" puts it into the form; nothing is pinned until
// the user saves. Loaded by templates/servers/form.html.
(() => {
    const button = document.querySelector("[data-connection-test]");
    if (!button) return;
    const form = button.form;
    const panel = document.getElementById(button.getAttribute("aria-controls"));
    const rows = panel.querySelector("[data-test-steps]");
    const outcome = panel.querySelector("[data-test-outcome]");
    const problem = panel.querySelector("[data-test-problem]");
    const TONES = { ok: "success", warning: "warning", failed: "error", skipped: "" };

    function element(tag, className, text) {
        const node = document.createElement(tag);
        if (className) node.className = className;
        if (text !== undefined) node.textContent = text;
        return node;
    }

    function pill(word) {
        return element("span", `status ${TONES[word] ?? ""}`.trim(), word);
    }

    function cell(label, ...children) {
        const td = element("td");
        if (label) td.dataset.label = label;
        td.append(...children);
        return td;
    }

    function useFingerprint(fingerprint) {
        form.elements.tls_mode.value = "fingerprint";
        form.elements.fingerprint.value = fingerprint;
        form.elements.fingerprint.focus();
        run();
    }

    function details(step) {
        // One element: on a phone each cell is a label and one value.
        const parts = element("div");
        parts.append(element("span", "", step.message));
        const tls = step.details || {};
        if (step.step === "tls" && tls.fingerprint && step.outcome === "failed") {
            const use = element("button", "btn btn-sm", "Use this fingerprint");
            use.type = "button";
            use.dataset.useFingerprint = tls.fingerprint;
            use.addEventListener("click", () => useFingerprint(tls.fingerprint));
            const action = element("span", "cell-note", "Same as the one Proxmox shows? ");
            action.append(use, " It is pinned when you save.");
            parts.append(action);
        }
        return parts;
    }

    function show(step) {
        const row = element("tr");
        row.dataset.step = step.step;
        row.append(
            cell("Step", element("strong", "", step.title)),
            cell("Result", pill(step.outcome)),
            cell("What happened", details(step)),
            cell("Time", step.elapsed_ms === null ? "–" : `${step.elapsed_ms} ms`),
        );
        row.lastChild.classList.add("num", "nowrap");
        rows.append(row);
    }

    function finish(result) {
        const parts = [pill(result.outcome)];
        if (result.response_time_ms !== null) parts.push(element("span", "muted", `${result.response_time_ms} ms`));
        outcome.replaceChildren(...parts);
        panel.dataset.outcome = result.outcome;
    }

    function fail(body) {
        const alert = element("div", "alert error");
        alert.setAttribute("role", "alert");
        alert.append(element("strong", "alert-title", body.detail || "The test could not run."));
        for (const [field, messages] of Object.entries(body.errors || {})) {
            const label = form.elements[field]?.labels?.[0]?.textContent || field;
            alert.append(element("p", "", `${label}: ${[].concat(messages).join(" ")}`));
        }
        problem.replaceChildren(alert);
        problem.hidden = false;
        outcome.replaceChildren(pill("failed"));
    }

    async function run() {
        button.disabled = true;
        panel.hidden = false;
        delete panel.dataset.outcome;
        rows.replaceChildren();
        problem.hidden = true;
        const spinner = element("span", "spinner spinner-sm");
        outcome.replaceChildren(spinner, element("span", "muted", "Testing…"));
        try {
            const response = await fetch(button.dataset.connectionTest, {
                method: "POST",
                body: new FormData(form),
                headers: { Accept: "application/x-ndjson", "X-CSRFToken": form.elements.csrfmiddlewaretoken.value },
                credentials: "same-origin",
            });
            if (!response.ok) {
                fail(await response.json().catch(() => ({ detail: `The portal answered ${response.status}.` })));
                return;
            }
            const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
            let buffer = "";
            for (;;) {
                const { value, done } = await reader.read();
                if (done) break;
                buffer += value;
                let end;
                while ((end = buffer.indexOf("\n")) >= 0) {
                    const line = buffer.slice(0, end).trim();
                    buffer = buffer.slice(end + 1);
                    if (!line) continue;
                    const message = JSON.parse(line);
                    if (message.result) finish(message.result);
                    else show(message);
                }
            }
        } catch (error) {
            fail({ detail: `The test could not run: ${error.message}` });
        } finally {
            button.disabled = false;
        }
    }

    button.addEventListener("click", run);
})();
