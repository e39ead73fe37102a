// The colour theme: the system's (the default), light or dark. Loaded in <head> without defer, so the stored choice
// is on <html> before the first paint and a dark page never flashes white. tokens.css does the rest:
// data-theme="light|dark" fixes color-scheme; without it the system's preference applies.
// Buttons with data-theme-toggle cycle system -> light -> dark; every open tab follows the change.
(() => {
    const KEY = "nexus-theme";
    const CHOICES = ["system", "light", "dark"];
    const LABELS = { system: "Theme: system", light: "Theme: light", dark: "Theme: dark" };
    const root = document.documentElement;

    function stored() {
        try {
            return localStorage.getItem(KEY);
        } catch {
            return null; // storage disabled: follow the system
        }
    }

    const next = (choice) => CHOICES[(CHOICES.indexOf(choice) + 1) % CHOICES.length];

    function label() {
        const choice = root.dataset.themeChoice;
        for (const button of document.querySelectorAll("[data-theme-toggle]")) {
            button.setAttribute("aria-label", `${LABELS[choice]}. Switch to ${next(choice)}.`);
            button.title = LABELS[choice];
        }
    }

    function apply(choice) {
        if (!CHOICES.includes(choice)) choice = "system";
        root.dataset.themeChoice = choice;
        if (choice === "system") delete root.dataset.theme;
        else root.dataset.theme = choice;
        label();
        document.dispatchEvent(new CustomEvent("nexus:themechange", { detail: { choice } }));
    }

    root.classList.add("js");
    apply(stored());
    document.addEventListener("DOMContentLoaded", label);

    document.addEventListener("click", (event) => {
        if (!event.target.closest("[data-theme-toggle]")) return;
        const choice = next(root.dataset.themeChoice);
        try {
            localStorage.setItem(KEY, choice);
        } catch {
            // not remembered, but still applied to this page
        }
        apply(choice);
    });

    window.addEventListener("storage", (event) => {
        if (event.key === KEY) apply(event.newValue);
    });
})();
