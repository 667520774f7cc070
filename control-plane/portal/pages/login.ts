import { html, type Html } from '../html.ts';

/** The sign-in form (the page itself is served by routes.ts: it needs no session). */
export const loginForm = (message = ''): Html => html`<div class="login">${message ? html`<p id="login-error" class="tone-bad" role="alert">${message}</p>` : ''}
<form method="post" action="/portal/login"><p><label for="key">API key</label><br><input id="key" type="password" name="key" autocomplete="off" size="60" required></p>
<p><button>Sign in</button></p></form><p>Any API key (reader or stronger) signs in; <code>arcsim key create --role reader</code> makes one.</p></div>`;
