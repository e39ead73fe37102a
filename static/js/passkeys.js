// After django-otp-webauthn's script registers a passkey: show the security page again, with the new key listed.
// (Its login script goes where the server says by itself.)
document.addEventListener("otp_webauthn.register_complete", (event) => {
    const next = event.target.dataset && event.target.dataset.next;
    window.location.assign(next || window.location.href);
});
