// The demo page's three files, served as they are: no build step, no dependency, no inline script or style (the
// page is served with a CSP that forbids both).

export const DEMO_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>websocket-relay</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/demo.css">
<script src="/demo.js" defer></script>
</head>
<body>
<header>
<h1>websocket-relay</h1>
<p id="status" data-state="connecting">connecting…</p>
</header>
<form id="send" autocomplete="off">
<input id="text" name="text" placeholder="type a message, Enter sends it to everyone connected" autofocus>
<button type="submit">Send</button>
<button type="button" id="reconnect" hidden>Reconnect</button>
</form>
<ol id="log" data-count="0"></ol>
<footer>Every message any client sends reaches every connected client. Open this page in a second tab to see it.</footer>
</body>
</html>
`;

export const DEMO_CSS = `:root { color-scheme: light dark; font: 15px/1.4 system-ui, sans-serif; }
body { max-width: 46rem; margin: 1.5rem auto; padding: 0 1rem; }
h1 { font-size: 1.3rem; margin: 0 0 .3rem; }
#status { margin: 0 0 1rem; font-weight: 600; }
#status[data-state="open"] { color: #16803c; }
#status[data-state="closed"] { color: #b42318; }
form { display: flex; gap: .5rem; }
input { flex: 1; padding: .45rem .6rem; font: inherit; }
button { padding: .45rem .9rem; font: inherit; }
#log { list-style: none; padding: .5rem; margin: 1rem 0; height: 18rem; overflow-y: auto; border: 1px solid #8884;
  font: 13px/1.45 ui-monospace, monospace; white-space: pre-wrap; overflow-wrap: anywhere; }
#log li.binary { color: #6941c6; }
#log li.event { color: #8a8a8a; font-style: italic; }
footer { color: #8a8a8a; font-size: .85rem; }
`;

export const DEMO_JS = `// websocket-relay demo: connects back to the relay that served this page, shows what arrives, sends what is typed
// and shows the close code. Messages are shown as text content, never as HTML.
'use strict';
(function () {
  var MAX_LINES = 500;
  var status = document.getElementById('status');
  var log = document.getElementById('log');
  var form = document.getElementById('send');
  var input = document.getElementById('text');
  var reconnect = document.getElementById('reconnect');
  var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/';
  var ws = null;
  var count = 0;

  function setStatus(state, text) {
    status.dataset.state = state;
    status.textContent = text;
  }

  function line(kind, text) {
    var item = document.createElement('li');
    item.className = kind;
    item.textContent = text;
    log.appendChild(item);
    while (log.childElementCount > MAX_LINES) log.removeChild(log.firstElementChild);
    log.scrollTop = log.scrollHeight;
  }

  function describeBinary(buffer) {
    var bytes = new Uint8Array(buffer);
    var hex = [];
    for (var i = 0; i < bytes.length && i < 32; i++) hex.push((bytes[i] < 16 ? '0' : '') + bytes[i].toString(16));
    return 'binary, ' + bytes.length + ' bytes: ' + hex.join(' ') + (bytes.length > 32 ? ' …' : '');
  }

  function connect() {
    reconnect.hidden = true;
    setStatus('connecting', 'connecting to ' + url + ' …');
    ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    ws.onopen = function () {
      setStatus('open', 'connected to ' + url);
    };
    ws.onmessage = function (event) {
      count++;
      log.dataset.count = String(count);
      if (typeof event.data === 'string') line('text', event.data);
      else line('binary', describeBinary(event.data));
    };
    ws.onclose = function (event) {
      var text = 'closed with code ' + event.code + (event.reason ? ' (' + event.reason + ')' : '');
      status.dataset.code = String(event.code);
      setStatus('closed', text);
      line('event', text);
      reconnect.hidden = false;
    };
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    if (ws === null || ws.readyState !== WebSocket.OPEN || input.value === '') return;
    ws.send(input.value);
    input.value = '';
  });
  reconnect.addEventListener('click', connect);
  connect();
})();
`;
