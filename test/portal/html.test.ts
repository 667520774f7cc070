import { test } from 'node:test';
import assert from 'node:assert/strict';
import { html, queryString, raw } from '../../control-plane/portal/html.ts';

test('portal html template: interpolated values are escaped (text and attributes), Html and arrays nest, nothing for null/undefined/false', () => {
  const name = `<script>alert("x")</script> & 'q'`;
  assert.equal(html`<p title="${name}">${name}</p>`.text,
    '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;</p>');
  assert.equal(html`<ul>${['a<', 'b'].map((x) => html`<li>${x}</li>`)}</ul>`.text, '<ul><li>a&lt;</li><li>b</li></ul>');
  assert.equal(html`${null}${undefined}${false}${0}`.text, '0');
  assert.equal(html`${raw('<b>ok</b>')}`.text, '<b>ok</b>');
  // A string that looks like markup made elsewhere is still text: only Html passes through.
  assert.equal(html`${String(html`<i>x</i>`)}`.text, '&lt;i&gt;x&lt;/i&gt;');
});

test('portal queryString: empty values left out, values encoded', () => {
  assert.equal(queryString({ a: 'x y&z', b: '', c: undefined, d: 2 }), '?a=x+y%26z&d=2');
  assert.equal(queryString({ a: '' }), '');
});
