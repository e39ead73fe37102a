// The guest lists (Guests page, server page). A quick action that is refused (403, 409) or fails upstream (5xx)
// answers with the guest's row or card saying why: htmx does not swap error answers by default, so let it for
// those. A guest that is no longer there for the user (404: its grant was taken back) stops asking for its task.
// Everything else is plain htmx attributes in the templates (vms/includes/guest_*.html).
document.addEventListener("htmx:beforeSwap", (event) => {
    const { target, xhr } = event.detail;
    if (!target?.matches?.("[data-guest]") || xhr.status < 400) return;
    if (xhr.status === 404) {
        target.dataset.gone = "";
        target.querySelector(".guest-task")?.replaceChildren("This guest is no longer available to you.");
        return;
    }
    event.detail.shouldSwap = true;
    event.detail.isError = false;
});

document.addEventListener("htmx:beforeRequest", (event) => {
    if (event.detail.elt.closest("[data-gone]")) event.preventDefault();
});
