// The API explorer's filter box: shows the paths whose path or description contains the text, with the branches
// that lead to them opened. Loaded by templates/servers/explore.html.
(() => {
    const input = document.querySelector("[data-tree-filter]");
    if (!input) return;
    const tree = document.querySelector(input.dataset.treeFilter);
    const empty = document.querySelector("[data-tree-empty]");
    // Children before their parents, so a branch knows whether anything under it matches.
    const items = [...tree.querySelectorAll("li")].reverse();
    const initiallyOpen = new Set([...tree.querySelectorAll("details[open]")]);

    input.addEventListener("input", () => {
        const text = input.value.trim().toLowerCase();
        let shown = 0;
        for (const item of items) {
            const branch = item.querySelector(":scope > details");
            const below = branch ? [...branch.querySelectorAll(":scope > ul > li")].some((child) => !child.hidden) : false;
            const match = !text || item.dataset.search.includes(text) || below;
            item.hidden = !match;
            if (branch) branch.open = text ? below : initiallyOpen.has(branch);
            if (match && item.parentElement === tree) shown += 1;
        }
        empty.hidden = shown > 0;
    });
})();
