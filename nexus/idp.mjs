// A real OpenID Connect provider (the `oidc-provider` package, certified by the OpenID Foundation) on loopback, for
// the demo (`make demo`: "Log in with Demo SSO") and the test suite. Not for production: accounts and passwords come
// from a JSON file, re-read at each request so a test can change someone's groups between two logins.
//
//   node nexus/idp.mjs CONFIG.json      prints "ready <issuer>" once it listens
//
// CONFIG: {"port": 0, "issuer": "http://127.0.0.1:PORT", "clients": [oidc-provider client metadata...],
//          "accounts": {"<sub>": {"password": "...", "amr": ["pwd", "otp"], "acr": "...", "claims": {...}}},
//          "tamper": null | "signature" | "audience"}   (tamper: the tests' forged ID tokens)
import fs from "node:fs";
import http from "node:http";
import { generateKeyPair, exportJWK, decodeJwt, SignJWT } from "jose";
import Provider from "oidc-provider";

const configPath = process.argv[2];
const read = () => JSON.parse(fs.readFileSync(configPath, "utf8"));
const config = read();
const KID = "nexus-idp";

const { privateKey } = await generateKeyPair("RS256", { extractable: true });
const intruder = (await generateKeyPair("RS256", { extractable: true })).privateKey;
const jwk = { ...(await exportJWK(privateKey)), kid: KID, alg: "RS256", use: "sig" };

const provider = new Provider(config.issuer, {
    clients: config.clients,
    jwks: { keys: [jwk] },
    cookies: { keys: ["nexus-demo-idp-cookies"] },
    claims: {
        iss: null,
        openid: ["sub", "acr", "amr", "auth_time", "sid"], // in every ID token: amr names the factors the login used
        email: ["email", "email_verified"],
        profile: ["name", "preferred_username", "given_name", "family_name"],
        groups: ["groups"],
    },
    scopes: ["openid", "email", "profile", "groups"],
    conformIdTokenClaims: false, // the claims of the scopes in the ID token too, as many providers do
    features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: (ctx, sub) => {
        const account = read().accounts[sub];
        return account && { accountId: sub, claims: () => ({ sub, ...account.claims }) };
    },
});

// The tests' forgeries: an ID token signed by another key (under the provider's key id), or meant for another client.
provider.use(async (ctx, next) => {
    await next();
    const tamper = read().tamper;
    if (!tamper || ctx.path !== "/token" || !ctx.body || !ctx.body.id_token) return;
    const claims = decodeJwt(ctx.body.id_token);
    if (tamper === "audience") claims.aud = "someone-else";
    const key = tamper === "signature" ? intruder : privateKey;
    ctx.body = { ...ctx.body, id_token: await new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: KID }).sign(key) };
});

const escape = (text) => String(text).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (body) =>
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Demo SSO</title>` +
    `<meta name="viewport" content="width=device-width"></head><body><main><h1>Demo SSO</h1>${body}</main></body></html>`;

async function interaction(req, res) {
    const details = await provider.interactionDetails(req, res);
    const accounts = read().accounts;
    if (req.method === "POST") {
        const form = new URLSearchParams(await new Promise((done) => {
            let data = "";
            req.on("data", (chunk) => (data += chunk));
            req.on("end", () => done(data));
        }));
        const sub = form.get("username") || "";
        const account = accounts[sub];
        if (account && account.password === form.get("password")) {
            const grant = new provider.Grant({ accountId: sub, clientId: details.params.client_id });
            grant.addOIDCScope(details.params.scope);
            const grantId = await grant.save();
            const login = { accountId: sub, amr: account.amr || ["pwd"], ...(account.acr ? { acr: account.acr } : {}) };
            return provider.interactionFinished(req, res, { login, consent: { grantId } }, { mergeWithLastSubmission: false });
        }
    }
    const failed = req.method === "POST" ? "<p><strong>Wrong user or password.</strong></p>" : "";
    const names = Object.keys(accounts).map(escape).join(", ");
    res.writeHead(req.method === "POST" ? 400 : 200, { "content-type": "text/html; charset=utf-8" });
    res.end(page(`${failed}<p>Accounts: ${names}</p><form method="post">` +
        `<p><label>User <input name="username" autofocus></label></p>` +
        `<p><label>Password <input name="password" type="password"></label></p>` +
        `<button type="submit">Log in</button></form>`));
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
    if (req.url.startsWith("/interaction/")) {
        interaction(req, res).catch((error) => {
            res.writeHead(400, { "content-type": "text/plain" });
            res.end(String(error));
        });
    } else {
        callback(req, res);
    }
});
server.listen(config.port, "127.0.0.1", () => console.log(`ready ${config.issuer}`));
