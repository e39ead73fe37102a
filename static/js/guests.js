// The guest lists (Guests page, server page): a quick action that is refused (403, 409) or fails upstream (502,
// 504) answers with the guest's row or card showing why; htmx does not swap error answers by default, so let it
// for those. Everything else is plain htmx attributes in the templates (vms/includes/guest_*.html).
document.addEventListener("htmx:beforeSwap", (event) => {
    const status = event.detail.xhr.status;
    if (status >= 400 && status !== 404 && event.detail.target?.matches?.("[data-guest]")) {
        event.detail.shouldSwap = true;
        event.detail.isError = false;
    }
});
