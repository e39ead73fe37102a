// Behaviour every page shares, wired by data attributes (the list is at the top of static/css/nexus.css).
// Loaded with defer from base.html. No inline scripts or event handlers anywhere: the pages run under a strict CSP.
(() => {
    const HTMX_REQUEST = "[hx-get], [hx-post], [hx-put], [hx-patch], [hx-delete]";

    // data-confirm: ask in #confirm-dialog before a form is sent, a link followed or an htmx request made.
    const dialog = document.getElementById("confirm-dialog");

    function confirmThen(trigger, proceed) {
        if (!dialog) return;
        const accept = dialog.querySelector("[data-confirm-accept]");
        dialog.querySelector("[data-confirm-title]").textContent = trigger.dataset.confirmTitle || "Are you sure?";
        dialog.querySelector("[data-confirm-message]").textContent = trigger.dataset.confirm;
        accept.textContent = trigger.dataset.confirmButton || trigger.textContent.trim() || "Confirm";
        accept.className = `btn ${trigger.classList.contains("btn-danger") ? "btn-danger" : "btn-primary"}`;
        dialog.returnValue = "";
        dialog.addEventListener(
            "close",
            () => {
                if (dialog.returnValue === "confirm") proceed();
            },
            { once: true },
        );
        dialog.showModal();
    }

    const confirmed = new WeakSet();

    document.addEventListener("submit", (event) => {
        const form = event.target;
        const trigger = event.submitter?.closest("[data-confirm]") || (form.matches("[data-confirm]") ? form : null);
        if (!trigger || form.matches(HTMX_REQUEST) || confirmed.has(form)) {
            confirmed.delete(form);
            return;
        }
        event.preventDefault();
        confirmThen(trigger, () => {
            confirmed.add(form);
            form.requestSubmit(event.submitter);
        });
    });

    document.addEventListener("click", (event) => {
        const link = event.target.closest("a[data-confirm]");
        if (!link || link.matches(HTMX_REQUEST)) return;
        event.preventDefault();
        confirmThen(link, () => window.location.assign(link.href));
    });

    // htmx asks before each request; answer for elements (or submit buttons) that carry data-confirm.
    document.addEventListener("htmx:confirm", (event) => {
        const trigger = event.detail.triggeringEvent?.submitter?.closest("[data-confirm]") ||
            event.detail.elt.closest("[data-confirm]");
        if (!trigger) return;
        event.preventDefault();
        confirmThen(trigger, () => event.detail.issueRequest(true));
    });

    // data-nav-toggle: the header's navigation on a phone.
    document.addEventListener("click", (event) => {
        const toggle = event.target.closest("[data-nav-toggle]");
        if (!toggle) return;
        const open = toggle.closest(".header").classList.toggle("nav-open");
        toggle.setAttribute("aria-expanded", String(open));
    });

    // <details class="menu">: close on Escape and on a click outside it.
    document.addEventListener("click", (event) => {
        for (const menu of document.querySelectorAll("details.menu[open]")) {
            if (!menu.contains(event.target)) menu.open = false;
        }
    });
    document.addEventListener("keydown", (event) => {
        if (event.key !== "Escape") return;
        const menu = event.target.closest?.("details.menu[open]");
        if (menu) {
            menu.open = false;
            menu.querySelector("summary").focus();
        }
    });

    // role="tablist": buttons with role="tab" and aria-controls show one panel; arrow keys move between tabs;
    // with data-remember="key" the chosen tab is kept in localStorage.
    function selectTab(tab, remember = true) {
        const list = tab.closest("[role=tablist]");
        for (const other of list.querySelectorAll("[role=tab]")) {
            const selected = other === tab;
            other.setAttribute("aria-selected", String(selected));
            other.tabIndex = selected ? 0 : -1;
            document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
        }
        if (remember && list.dataset.remember) {
            try {
                localStorage.setItem(`nexus-tab-${list.dataset.remember}`, tab.id);
            } catch {
                // not remembered
            }
        }
    }

    for (const list of document.querySelectorAll("[role=tablist]")) {
        let saved = null;
        try {
            saved = list.dataset.remember && localStorage.getItem(`nexus-tab-${list.dataset.remember}`);
        } catch {
            // storage disabled
        }
        const tabs = [...list.querySelectorAll("[role=tab]")];
        const initial = tabs.find((tab) => tab.id === saved) ||
            tabs.find((tab) => tab.getAttribute("aria-selected") === "true") || tabs[0];
        if (initial) selectTab(initial, false);
        list.addEventListener("click", (event) => {
            const tab = event.target.closest("[role=tab]");
            if (tab) selectTab(tab);
        });
        list.addEventListener("keydown", (event) => {
            const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
            const index = tabs.indexOf(event.target);
            if (!step || index < 0) return;
            event.preventDefault();
            const tab = tabs[(index + step + tabs.length) % tabs.length];
            selectTab(tab);
            tab.focus();
        });
    }

    // data-copy="#selector": copy that element's text, and say so on the button for a moment.
    document.addEventListener("click", async (event) => {
        const button = event.target.closest("[data-copy]");
        if (!button) return;
        const source = document.querySelector(button.dataset.copy);
        if (!source) return;
        const content = button.innerHTML;
        try {
            await navigator.clipboard.writeText(source.textContent);
            button.textContent = "Copied";
        } catch {
            button.textContent = "Copy failed";
        }
        setTimeout(() => {
            button.innerHTML = content;
        }, 1500);
    });
})();
