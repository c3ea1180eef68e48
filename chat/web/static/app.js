// The bundled web client: the structured JSON dialect over a WebSocket to the server that served
// this page. No framework, no build step, nothing fetched from elsewhere (see docs/web.md).
//
// Layout of this file: constants and small helpers; the model (conversations, lines, members)
// that events from the server update; the connection (connect, hello, login, rejoin, history,
// reconnect with backoff); the view (everything that touches the DOM); slash commands; start-up.
//
// Safety rule: whatever came from the network is put on screen with textContent (or as an
// attribute value through the DOM API), never as HTML. The page's Content-Security-Policy
// forbids inline script as a second line of defence.
'use strict';

(() => {
  // -- constants and helpers ------------------------------------------------------------------

  const SERVER = '*server*';               // key of the server's own conversation
  const BACKOFF = [500, 1000, 2000, 3000, 5000, 8000, 10000]; // ms between attempts; last repeats
  const JITTER = 0.2;                       // +-20%, so clients dropped together spread out
  const SCROLLBACK = 2000;                  // lines kept per conversation
  const SEEN_IDS = 4000;                    // event ids remembered per conversation (de-duplication)
  const OLDER_PAGE = 50;                    // lines per page when scrolling back
  const GAP_PAGE = 100;                     // lines per gap-filling request after a reconnect
  const GAP_PAGES = 10;                     // at most this many gap pages per room per reconnect
  const LOGIN_TIMEOUT = 10000;              // ms to wait for a login's answer before joining anyway
  const IDLE_PING = 60000;                  // ms of silence before we ping the server
  const PING_TIMEOUT = 30000;               // ms to wait for any answer to that ping
  const INPUT_HISTORY = 100;                // lines remembered for the up/down arrows
  const HISTORY_TYPES = new Set(['message', 'topic', 'join', 'part', 'quit', 'kick', 'nick']);
  const NICK_CHARS = 'A-Za-z0-9_\\-\\[\\]\\\\`^{}|';
  const NICK_COLOURS = 16;

  const fold = (name) => String(name).toLowerCase(); // the server's CASEMAPPING=ascii
  const $ = (id) => document.getElementById(id);
  const isStr = (v) => typeof v === 'string';

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text; // text only, never markup
    return node;
  }

  function parseTs(ts) {
    const t = isStr(ts) ? Date.parse(ts) : NaN;
    return Number.isNaN(t) ? Date.now() : t;
  }

  function isoMs(t) { return new Date(t).toISOString(); } // 2026-11-30T22:39:19.337Z

  function nickColour(nick) {
    let h = 5381;
    const s = fold(nick);
    for (let i = 0; i < s.length; i++) h = ((h * 33) ^ s.charCodeAt(i)) >>> 0;
    return 'nick-c' + (h % NICK_COLOURS);
  }

  function bisect(lines, ts, right) {
    let lo = 0, hi = lines.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (right ? lines[mid].ts <= ts : lines[mid].ts < ts) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  // -- the model ------------------------------------------------------------------------------

  function newConversation(name, kind) {
    return {
      name, kind, lines: [], members: new Map(), topic: '', joined: false,
      unread: 0, mentioned: false, seen: new Set(), newest: null, oldest: null,
      loadingOlder: false, historyStart: false,
    };
  }

  const S = {
    ws: null,               // the WebSocket of this session, if any
    phase: 'login',         // login | connecting | registering | connected | waiting | closed
    detail: '',             // what the status shows beside the phase
    nick: '',
    wanted: '',             // the nick the next hello asks for
    registeredOnce: false,  // a welcome was seen: later sessions are reconnects
    account: null,          // the account this session is logged in to
    credentials: null,      // {account, password, register}: memory only, never stored
    convs: new Map([[SERVER, newConversation('server', 'server')]]),
    current: SERVER,
    initialRooms: [],
    pendingRooms: [],       // joins held back until the login is answered
    expectJoin: new Set(),  // rooms the user asked for: switch to them when joined
    gapFrom: new Map(),     // folded room -> newest id shown before a drop
    asks: new Map(),        // ref -> {kind: older|gap|account|login, ...}
    refs: 0,
    loginRef: null,
    loginTimer: 0,
    failures: 0,            // failed attempts since the last welcome
    welcomedThisSession: false,
    retryTimer: 0,
    retryAt: 0,
    lastRx: 0,
    pingedAt: 0,
    disconnectReason: '',
    limits: {},
    mentionRe: null,
    inputHistory: [],
    inputPos: -1,
  };

  const conv = (name) => S.convs.get(name === SERVER ? SERVER : fold(name));
  const keyOf = (c) => (c.kind === 'server' ? SERVER : fold(c.name));
  const current = () => S.convs.get(S.current);
  const isMe = (nick) => isStr(nick) && fold(nick) === fold(S.nick);

  function setNick(nick) {
    S.nick = nick;
    const esc = nick.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    S.mentionRe = new RegExp(`(?<![${NICK_CHARS}])${esc}(?![${NICK_CHARS}])`, 'i');
  }

  const mentionsMe = (text) => !!S.nick && S.mentionRe.test(text);

  function roomConv(name, create) {
    if (!isStr(name)) return null;
    let c = S.convs.get(fold(name));
    if (!c && create) {
      c = newConversation(name, 'room');
      S.convs.set(fold(name), c);
    }
    return c && c.kind === 'room' ? c : null;
  }

  function privateConv(nick) {
    let c = S.convs.get(fold(nick));
    if (!c) {
      c = newConversation(nick, 'private');
      S.convs.set(fold(nick), c);
    }
    return c;
  }

  function remember(c, line) {
    if (!line.id) return true;
    if (c.seen.has(line.id)) return false;
    c.seen.add(line.id);
    if (c.seen.size > SEEN_IDS) c.seen.delete(c.seen.values().next().value);
    return true;
  }

  // The event's id when the server keeps the event in this room's history (so it can anchor a
  // history request and de-duplicate a replay), else null.
  function historyId(c, ev, replayed) {
    if (c.kind !== 'room' || !isStr(ev.id) || !HISTORY_TYPES.has(ev.type)) return null;
    if (ev.type === 'topic' && !(ev.changed || replayed)) return null;
    const rooms = (ev.type === 'quit' || ev.type === 'nick') && !ev.room ? ev.rooms : [ev.room];
    return Array.isArray(rooms) && rooms.some((r) => isStr(r) && fold(r) === keyOf(c)) ? ev.id : null;
  }

  function makeLine(c, ev, kind, text, nick, mention) {
    const own = isMe(nick);
    return {
      ts: parseTs(ev.ts), kind, text: String(text ?? ''), nick: isStr(nick) ? nick : null,
      own, mention: !!mention && !own, id: historyId(c, ev, false), history: false, node: null,
    };
  }

  // A live line at the end of a conversation; counted as unread unless on screen.
  function addLine(c, line, count = true) {
    if (!remember(c, line)) return;
    c.lines.push(line);
    if (line.id) {
      c.newest = { ts: line.ts, id: line.id };
      if (!c.oldest) c.oldest = { ts: line.ts, id: line.id };
    }
    const dropped = c.lines.length > SCROLLBACK ? c.lines.shift() : null;
    view.appended(c, line, dropped);
    if (count && (keyOf(c) !== S.current || document.hidden)) {
      if (line.kind === 'message' || line.kind === 'action' ||
          (line.kind === 'notice' && c.kind !== 'server')) c.unread += 1;
      if (line.mention) c.mentioned = true;
    }
    view.changed();
  }

  function info(text, c = current(), kind = 'info') {
    addLine(c, { ts: Date.now(), kind, text, nick: null, own: false, mention: false, id: null,
                 history: false, node: null }, false);
  }

  function infoAll(text, kind = 'info') {
    for (const c of S.convs.values()) info(text, c, kind);
  }

  function lineFor(c, ev, kind, text, nick, mention) {
    addLine(c, makeLine(c, ev, kind, text, nick, mention));
  }

  // Past events (oldest first) among the lines in time order; skips ids already shown. Each new
  // line goes right after the page's previous one, so lines within one millisecond keep the
  // server's order; the first goes before lines of its time for a "before" page.
  function mergeHistory(c, events, direction) {
    let prev = null;
    let added = 0;
    const stamped = [];
    const insertions = [];
    for (let index = 0; index < events.length; index++) {
      const ev = events[index];
      const line = historyLine(c, ev);
      if (!line) continue;
      if (line.id) {
        stamped.push({ ts: line.ts, id: line.id });
        if (c.seen.has(line.id)) {
          const at = c.lines.findIndex((l) => l.id === line.id);
          prev = at >= 0 ? at : prev;
          continue;
        }
        remember(c, line);
      }
      let at = -1;
      if (prev === null) {
        // A line of this page already on screen further on marks the spot: the page is in
        // the server's order, which is right even within one millisecond.
        for (let j = index + 1; j < events.length && at < 0; j++) {
          const later = events[j] && events[j].id;
          if (isStr(later) && c.seen.has(later)) at = c.lines.findIndex((l) => l.id === later);
        }
        if (at < 0) at = bisect(c.lines, line.ts, direction !== 'before');
      } else {
        at = prev + 1;
        while (at < c.lines.length && c.lines[at].ts < line.ts) at++;
      }
      if (c.lines.length >= SCROLLBACK && at === 0) continue; // older than the scrollback keeps
      c.lines.splice(at, 0, line);
      insertions.push([at, line]);
      if (c.lines.length > SCROLLBACK) {
        const gone = c.lines.shift();
        insertions.push([-1, gone]);
        at -= 1;
      }
      prev = at;
      added++;
    }
    if (stamped.length) {
      const first = stamped[0], last = stamped[stamped.length - 1];
      if (!c.oldest || first.ts <= c.oldest.ts) c.oldest = first;
      if (!c.newest || last.ts >= c.newest.ts) c.newest = last;
    }
    if (added) view.inserted(c, insertions);
    return added;
  }

  function historyLine(c, ev) {
    if (!ev || typeof ev !== 'object') return null;
    let nick = isStr(ev.from) ? ev.from : null;
    let kind, mention = false;
    const text = String(ev.text ?? '');
    if (ev.type === 'message') {
      kind = ev.kind === 'action' || ev.kind === 'notice' ? ev.kind : 'message';
      mention = mentionsMe(text) && !isMe(nick);
    } else if (ev.type === 'topic') {
      kind = 'topic';
      if (isStr(ev.set_by)) nick = ev.set_by;
    } else if (['join', 'part', 'quit', 'nick'].includes(ev.type)) {
      kind = ev.type;
    } else if (ev.type === 'kick') {
      kind = 'part';
    } else {
      return null;
    }
    return { ts: parseTs(ev.ts), kind, text, nick, own: isMe(nick), mention,
             id: historyId(c, ev, true), history: true, node: null };
  }

  function select(key) {
    const c = S.convs.get(key);
    if (!c) return false;
    S.current = key;
    c.unread = 0;
    c.mentioned = false;
    view.showConversation();
    return true;
  }

  function closeConv(key) {
    if (key === SERVER || !S.convs.has(key)) return;
    const keys = [...S.convs.keys()];
    S.convs.delete(key);
    if (S.current === key) select(keys[keys.indexOf(key) - 1] || SERVER);
    view.changed();
  }

  const joinedRooms = () => [...S.convs.values()].filter((c) => c.kind === 'room' && c.joined)
    .map((c) => c.name);

  // Event type -> what it changes. Unknown types are shown in the server conversation.
  const ON = {
    welcome(ev) {
      setNick(isStr(ev.nick) ? ev.nick : S.wanted);
      S.limits = ev.limits && typeof ev.limits === 'object' ? ev.limits : {};
      const server = S.convs.get(SERVER);
      if (isStr(ev.server)) server.name = ev.server;
      lineFor(server, ev, 'notice', ev.text);
      if (ev.motd) lineFor(server, ev, 'notice', ev.motd);
    },
    message(ev) {
      const sender = isStr(ev.from) ? ev.from : null;
      const kind = ev.kind === 'action' || ev.kind === 'notice' ? ev.kind : 'message';
      let c;
      if (ev.room != null) c = roomConv(ev.room, true);
      else if (!sender) c = S.convs.get(SERVER);
      else c = privateConv(isMe(sender) && isStr(ev.to) ? ev.to : sender);
      if (!c) return;
      const text = String(ev.text ?? '');
      lineFor(c, ev, kind, text, sender, c.kind === 'private' || mentionsMe(text));
    },
    join(ev) {
      if (!isStr(ev.from)) return;
      const me = isMe(ev.from);
      const c = roomConv(ev.room, me);
      if (!c) return;
      if (me) {
        c.joined = true;
        c.members.clear();
        c.topic = '';
        c.historyStart = false;
        if (S.expectJoin.delete(keyOf(c))) select(keyOf(c));
      }
      c.members.set(fold(ev.from), { nick: ev.from, op: false, voice: false, account: null });
      lineFor(c, ev, 'join', ev.text, ev.from);
    },
    part(ev) {
      const c = roomConv(ev.room);
      if (!c || !isStr(ev.from)) return;
      if (isMe(ev.from)) {
        closeConv(keyOf(c));
        lineFor(current(), ev, 'part', ev.text, ev.from);
        return;
      }
      c.members.delete(fold(ev.from));
      lineFor(c, ev, 'part', ev.text, ev.from);
    },
    quit(ev) {
      if (!isStr(ev.from)) return;
      for (const c of S.convs.values()) {
        const was = c.kind === 'room' && c.members.delete(fold(ev.from));
        if (was || (c.kind === 'private' && keyOf(c) === fold(ev.from))) {
          lineFor(c, ev, 'quit', ev.text, ev.from);
        }
      }
    },
    nick(ev) {
      const old = ev.from, now = ev.nick;
      if (!isStr(old) || !isStr(now)) return;
      if (isMe(old)) {
        setNick(now);
        S.wanted = now;
        lineFor(S.convs.get(SERVER), ev, 'nick', ev.text, old);
      }
      for (const c of S.convs.values()) {
        const m = c.members.get(fold(old));
        if (m) {
          c.members.delete(fold(old));
          m.nick = now;
          c.members.set(fold(now), m);
          lineFor(c, ev, 'nick', ev.text, old);
        }
      }
      const peer = S.convs.get(fold(old));
      if (peer && peer.kind === 'private' && !S.convs.has(fold(now))) {
        peer.name = now;
        S.convs = new Map([...S.convs].map(([k, v]) => [k === fold(old) ? fold(now) : k, v]));
        if (S.current === fold(old)) S.current = fold(now);
        lineFor(peer, ev, 'nick', ev.text, old);
      }
    },
    topic(ev) {
      const c = roomConv(ev.room);
      if (!c) { lineFor(current(), ev, 'topic', ev.text); return; }
      c.topic = String(ev.topic ?? '');
      if (ev.changed || c.topic) lineFor(c, ev, 'topic', ev.text, ev.changed ? ev.set_by : null);
    },
    members(ev) {
      const c = roomConv(ev.room);
      if (!Array.isArray(ev.members)) return;
      if (c && c.joined) {
        c.members = new Map(ev.members.filter((m) => m && isStr(m.nick)).map((m) => [fold(m.nick), {
          nick: m.nick, op: !!m.op, voice: !!m.voice, account: isStr(m.account) ? m.account : null,
        }]));
      } else {
        lineFor(current(), ev, 'info', ev.text);
      }
    },
    rooms(ev) {
      if (!Array.isArray(ev.rooms)) return;
      lineFor(current(), ev, 'info', ev.text);
      for (const r of ev.rooms) {
        if (r && isStr(r.room)) {
          const topic = r.topic ? ` — ${r.topic}` : '';
          lineFor(current(), ev, 'info', `  ${r.room} (${Number(r.members) || 0})${topic}`);
        }
      }
    },
    kick(ev) {
      const c = roomConv(ev.room);
      if (!c || !isStr(ev.nick)) return;
      c.members.delete(fold(ev.nick));
      if (isMe(ev.nick)) { // keep the room on screen so the reason can be read
        c.joined = false;
        c.members.clear();
        c.mentioned = keyOf(c) !== S.current;
      }
      lineFor(c, ev, 'part', ev.text, ev.from);
    },
    mode(ev) {
      const c = roomConv(ev.target);
      if (c && isStr(ev.modes) && Array.isArray(ev.args)) {
        let adding = true;
        const rest = [...ev.args];
        for (const ch of ev.modes) {
          if (ch === '+' || ch === '-') { adding = ch === '+'; continue; }
          if ('ovb'.includes(ch) || ('kl'.includes(ch) && adding)) {
            const arg = rest.shift();
            const m = isStr(arg) ? c.members.get(fold(arg)) : null;
            if (m && ch === 'o') m.op = adding;
            if (m && ch === 'v') m.voice = adding;
          }
        }
      }
      lineFor(c || current(), ev, 'nick', ev.text, ev.from);
    },
    notice(ev) { lineFor(roomConv(ev.room) || current(), ev, 'notice', ev.text); },
    error(ev) { lineFor(current(), ev, 'error', ev.text); },
    disconnect(ev) {
      S.disconnectReason = String(ev.reason || '');
      lineFor(S.convs.get(SERVER), ev, 'notice', ev.text);
    },
    account(ev) {
      S.account = ev.status === 'logged_out' || !isStr(ev.account) ? null : ev.account;
      lineFor(current(), ev, 'info', ev.text);
    },
    account_notify(ev) {
      if (!isStr(ev.nick)) return;
      const account = isStr(ev.account) ? ev.account : null;
      if (isMe(ev.nick)) S.account = account;
      for (const c of S.convs.values()) {
        const m = c.members.get(fold(ev.nick));
        if (m) m.account = account;
      }
    },
    history(ev) {
      const c = roomConv(ev.room);
      if (c && Array.isArray(ev.events)) mergeHistory(c, ev.events, ev.direction);
    },
    pong() {},
    ping(ev) { send({ type: 'pong', token: ev.token }); },
  };
  for (const name of ['invite', 'whois', 'away', 'modes', 'bans', 'oper', 'wallops',
                      'server_bans']) {
    ON[name] = (ev) => lineFor(current(), ev, 'info', ev.text);
  }

  function apply(ev) {
    const handler = Object.prototype.hasOwnProperty.call(ON, ev.type) ? ON[ev.type] : null;
    if (handler) handler(ev);
    else lineFor(S.convs.get(SERVER), ev, 'notice', ev.text);
    view.changed();
  }

  // -- the connection -------------------------------------------------------------------------

  function wsUrl() {
    return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/';
  }

  function setPhase(phase, detail = '') {
    S.phase = phase;
    S.detail = detail;
    view.status();
  }

  function send(obj) {
    const ws = S.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(obj));
    return true;
  }

  const connected = () => S.phase === 'connected' && S.ws && S.ws.readyState === WebSocket.OPEN;

  function request(obj) {
    if (connected() && send(obj)) return true;
    info('Not connected to the server yet; nothing was sent.', current(), 'error');
    return false;
  }

  function nextRef(prefix) { S.refs += 1; return prefix + S.refs; }

  function connect() {
    clearTimeout(S.retryTimer);
    S.retryTimer = 0;
    const old = S.ws;
    S.ws = null; // its handlers see they are no longer the session's, and stay quiet
    if (old) old.close(1000);
    setPhase('connecting', location.host);
    let ws;
    try {
      ws = new WebSocket(wsUrl(), 'chat.json');
    } catch (err) {
      lost(String(err.message || err));
      return;
    }
    S.ws = ws;
    S.welcomedThisSession = false;
    S.disconnectReason = '';
    ws.onopen = () => {
      if (S.ws !== ws) return;
      S.lastRx = Date.now();
      S.pingedAt = 0;
      S.asks.clear(); // requests of an earlier session are never answered now
      S.loginRef = null;
      for (const c of S.convs.values()) c.loadingOlder = false;
      setPhase('registering');
      send({ type: 'hello', version: 1, nick: S.wanted, client: 'chat-web' });
    };
    ws.onmessage = (msg) => {
      if (S.ws !== ws) return;
      S.lastRx = Date.now();
      S.pingedAt = 0;
      let ev;
      try { ev = JSON.parse(msg.data); } catch { return; }
      if (ev && typeof ev === 'object' && isStr(ev.type)) handle(ev);
    };
    ws.onclose = (close) => {
      if (S.ws !== ws) return;
      S.ws = null;
      lost(S.disconnectReason || close.reason || (S.welcomedThisSession
        ? 'connection closed' : 'cannot reach the server'));
    };
  }

  function lost(reason) {
    clearTimeout(S.loginTimer);
    S.loginRef = null;
    if (S.phase === 'closed' || S.phase === 'login') return;
    if (S.welcomedThisSession) S.failures = 0;
    S.account = null;
    for (const c of S.convs.values()) if (c.kind === 'room') c.members.clear();
    const base = BACKOFF[Math.min(S.failures, BACKOFF.length - 1)];
    const delay = base * (1 - JITTER + Math.random() * 2 * JITTER);
    if (S.registeredOnce && (S.failures === 0 || S.welcomedThisSession)) {
      infoAll(`Disconnected from the server: ${reason}. Reconnecting…`, 'error');
    } else if (S.failures === 0) {
      info(`Cannot connect: ${reason}. Retrying in the background.`, S.convs.get(SERVER), 'error');
    }
    S.failures += 1;
    S.retryAt = Date.now() + delay;
    setPhase('waiting', reason);
    S.retryTimer = setTimeout(connect, delay);
    view.changed();
  }

  function handle(ev) {
    const type = ev.type;
    const registering = S.phase === 'registering';
    if (type === 'welcome') { welcomed(ev); return; }
    if (type === 'error' && registering && (ev.code === 'nick_taken' || ev.code === 'nick_invalid')) {
      if (S.registeredOnce && ev.code === 'nick_taken') {
        // Likely our own ghost from before the drop: take a variant and carry on.
        const limit = Number(S.limits.nick_len) || 30;
        S.wanted = S.wanted.slice(0, limit - 1) + '_';
        info(`${ev.text} Trying ${S.wanted} instead.`, S.convs.get(SERVER));
        send({ type: 'hello', version: 1, nick: S.wanted, client: 'chat-web' });
      } else {
        view.backToLogin(String(ev.text || 'That nickname cannot be used.'));
      }
      return;
    }
    const ref = isStr(ev.ref) ? ev.ref : null;
    if (ref && ref === S.loginRef && (type === 'account' || type === 'error')) {
      loginAnswered(ev);
      return;
    }
    const ask = ref ? S.asks.get(ref) : undefined;
    if (ask) S.asks.delete(ref);
    if (ask && ask.kind === 'account' && type === 'account') accountAnswered(ask, ev);
    apply(ev);
    if (type === 'join' && isMe(ev.from) && isStr(ev.room)) {
      const after = S.gapFrom.get(fold(ev.room));
      if (after) {
        S.gapFrom.delete(fold(ev.room));
        askHistory({ kind: 'gap', room: fold(ev.room), limit: GAP_PAGE, page: 1 }, ev.room,
                   { after });
      }
    }
    if (ask && (ask.kind === 'older' || ask.kind === 'gap')) historyAnswered(ask, ev);
  }

  function welcomed(ev) {
    const reconnect = S.registeredOnce;
    S.registeredOnce = true;
    S.welcomedThisSession = true;
    S.failures = 0;
    apply(ev);
    S.wanted = S.nick;
    setPhase('connected');
    view.loggedIn();
    let rooms = reconnect ? joinedRooms() : [...S.initialRooms];
    const held = S.pendingRooms.filter((r) => !rooms.some((x) => fold(x) === fold(r)));
    rooms = rooms.concat(held);
    S.pendingRooms = [];
    if (reconnect) {
      infoAll('Reconnected.');
      S.gapFrom.clear();
      for (const room of rooms) {
        const c = roomConv(room);
        if (c && c.newest) S.gapFrom.set(fold(room), c.newest.id);
      }
    } else if (rooms.length) {
      S.expectJoin.add(fold(rooms[0]));
    }
    if (startLogin()) { S.pendingRooms = rooms; return; }
    joinAll(rooms);
  }

  function joinAll(rooms) {
    for (const room of rooms) send({ type: 'join', room });
  }

  // -- accounts: the session logs in right after welcome, then joins its rooms ---------------

  function startLogin() {
    const cred = S.credentials;
    if (!cred) return false;
    S.loginRef = nextRef('login');
    setPhase('connected', cred.register ? `registering ${S.nick}` : `logging in as ${cred.account}`);
    if (cred.register) send({ type: 'register', password: cred.password, ref: S.loginRef });
    else send({ type: 'login', account: cred.account, password: cred.password, ref: S.loginRef });
    clearTimeout(S.loginTimer);
    S.loginTimer = setTimeout(() => {
      if (!S.loginRef) return;
      info('The server did not answer the login in time; carrying on without an account.',
           current(), 'error');
      finishLogin();
    }, LOGIN_TIMEOUT);
    return true;
  }

  function finishLogin() {
    clearTimeout(S.loginTimer);
    S.loginRef = null;
    setPhase('connected');
    const rooms = S.pendingRooms;
    S.pendingRooms = [];
    joinAll(rooms);
  }

  function loginAnswered(ev) {
    const cred = S.credentials;
    if (ev.type === 'account') {
      if (cred) { cred.register = false; cred.account = isStr(ev.account) ? ev.account : S.nick; }
      apply(ev);
    } else {
      // A wrong password stays wrong: forget it rather than fail at every reconnect.
      S.credentials = null;
      const what = cred && cred.register ? 'register' : 'log in';
      info(`Could not ${what}: ${ev.text || ev.code}. You are connected without an account ` +
           '(/login or /register to try again).', current(), 'error');
      if (S.current === SERVER) S.expectJoin.clear(); // stay where the error shows
    }
    finishLogin();
  }

  function accountRequest(obj, ask) {
    const ref = nextRef('a');
    if (!request({ ...obj, ref })) return false;
    S.asks.set(ref, { kind: 'account', ...ask });
    return true;
  }

  function accountAnswered(ask, ev) {
    if (ev.status === 'logged_in' || ev.status === 'registered') {
      S.credentials = { account: isStr(ev.account) ? ev.account : S.nick,
                        password: ask.password, register: false };
    } else if (ev.status === 'password_changed' && S.credentials) {
      S.credentials.password = ask.password;
    } else if (ev.status === 'logged_out') {
      S.credentials = null;
    }
  }

  // -- history --------------------------------------------------------------------------------

  function askHistory(ask, room, where) {
    const ref = nextRef('h');
    S.asks.set(ref, ask);
    send({ type: 'history', room, limit: ask.limit, ref, ...where });
  }

  function requestOlder(c) {
    if (!c || c.kind !== 'room' || !c.joined || c.loadingOlder || c.historyStart ||
        c.lines.length >= SCROLLBACK || !connected()) return false;
    let before = c.oldest ? c.oldest.id : null;
    if (!before && c.lines.length) before = isoMs(c.lines[0].ts);
    c.loadingOlder = true;
    const where = before ? { before } : {};
    askHistory({ kind: 'older', room: keyOf(c), limit: OLDER_PAGE }, c.name, where);
    view.changed();
    return true;
  }

  function historyAnswered(ask, ev) {
    const c = S.convs.get(ask.room);
    if (!c) return;
    const past = ev.type === 'history' && Array.isArray(ev.events) ? ev.events : null;
    if (ask.kind === 'older') {
      c.loadingOlder = false;
      if (!past || past.length < ask.limit) c.historyStart = true; // nothing older is left
      view.changed();
      return;
    }
    if (past && past.length >= ask.limit && ask.page < GAP_PAGES && c.joined) {
      const last = past[past.length - 1];
      if (last && isStr(last.id)) {
        askHistory({ ...ask, page: ask.page + 1 }, c.name, { after: last.id });
      }
    }
  }

  // -- keepalive: a browser hides WebSocket pings, so silence is checked with chat pings ----

  setInterval(() => {
    if (!connected()) return;
    const now = Date.now();
    if (S.pingedAt && now - S.pingedAt > PING_TIMEOUT) {
      S.disconnectReason = 'the server stopped answering';
      S.ws.close();
    } else if (!S.pingedAt && now - S.lastRx > IDLE_PING) {
      S.pingedAt = now;
      send({ type: 'ping', token: 'keepalive' });
    }
  }, 5000);

  // -- the view -------------------------------------------------------------------------------

  const view = (() => {
    const dom = {
      login: $('login'), loginForm: $('login-form'), loginNick: $('login-nick'),
      loginPassword: $('login-password'), loginRegister: $('login-register'),
      loginRooms: $('login-rooms'), loginError: $('login-error'),
      app: $('app'), title: $('title'), topic: $('topic'), status: $('status'),
      convList: $('conversations'), meNick: $('me-nick'), meAccount: $('me-account'),
      scroller: $('scroller'), older: $('older'), log: $('log'), input: $('input'),
      inputForm: $('input-form'), memberList: $('member-list'), memberCount: $('member-count'),
      roomsBadge: $('rooms-badge'),
    };
    let pending = false;

    function timeText(ts) {
      const d = new Date(ts);
      return String(d.getHours()).padStart(2, '0') + ':' + String(d.getMinutes()).padStart(2, '0');
    }

    function lineNode(line) {
      if (line.node) return line.node;
      const row = el('div', `line kind-${line.kind}`);
      if (line.own) row.classList.add('own');
      if (line.mention) row.classList.add('mention');
      if (line.history) row.classList.add('history');
      if (line.id) row.dataset.id = line.id;
      const time = el('time', 'ts', timeText(line.ts));
      time.dateTime = new Date(line.ts).toISOString();
      time.title = new Date(line.ts).toLocaleString();
      row.append(time);
      if ((line.kind === 'message' || line.kind === 'notice') && line.nick) {
        row.append(el('span', `nick ${nickColour(line.nick)}`, line.nick));
        row.append(el('span', 'text', line.text));
      } else if (line.kind === 'action' && line.nick) {
        row.append(el('span', 'star', '*'));
        row.append(el('span', `nick ${nickColour(line.nick)}`, line.nick));
        row.append(el('span', 'text', line.text));
      } else {
        row.append(el('span', 'text', line.text));
      }
      line.node = row;
      return row;
    }

    const nearBottom = () =>
      dom.scroller.scrollHeight - dom.scroller.scrollTop - dom.scroller.clientHeight < 48;
    const toBottom = () => { dom.scroller.scrollTop = dom.scroller.scrollHeight; };

    function appended(c, line, dropped) {
      if (keyOf(c) !== S.current) return;
      const stick = nearBottom() || line.own;
      if (dropped && dropped.node && dropped.node.parentNode === dom.log) dropped.node.remove();
      dom.log.append(lineNode(line));
      if (stick) toBottom();
    }

    // History lines placed among those on screen: keep what the reader looks at in place.
    // Walking the lines from the end, each one missing from the page goes before the next.
    function inserted(c, insertions) {
      if (keyOf(c) !== S.current) return;
      const stick = nearBottom();
      const fromBottom = dom.scroller.scrollHeight - dom.scroller.scrollTop;
      for (const [at, line] of insertions) {
        if (at < 0 && line.node && line.node.parentNode === dom.log) line.node.remove();
      }
      let next = null;
      for (let i = c.lines.length - 1; i >= 0; i--) {
        const node = lineNode(c.lines[i]);
        if (node.parentNode !== dom.log) dom.log.insertBefore(node, next);
        next = node;
      }
      if (stick) toBottom();
      else dom.scroller.scrollTop = dom.scroller.scrollHeight - fromBottom;
    }

    function showConversation() {
      const c = current();
      dom.log.replaceChildren(...c.lines.map(lineNode));
      toBottom();
      document.body.classList.remove('show-rooms', 'show-members');
      changed();
      render();
    }

    function changed() {
      if (pending) return;
      pending = true;
      setTimeout(render, 0);
    }

    function render() {
      pending = false;
      const c = current();
      if (!c) return;
      if (!document.hidden) { c.unread = 0; c.mentioned = false; }
      dom.title.textContent = c.name;
      dom.topic.textContent = c.kind === 'room' ? (c.joined ? c.topic : 'not joined') :
        c.kind === 'private' ? 'private conversation' : '';
      dom.topic.title = dom.topic.textContent;
      dom.meNick.textContent = S.nick;
      dom.meAccount.textContent = S.account ? ` (account ${S.account})` : '';
      let unreadElsewhere = 0, mention = false;
      const items = [];
      for (const [key, conv] of S.convs) {
        const li = el('li', `conv kind-${conv.kind}`);
        li.dataset.key = key;
        if (key === S.current) li.classList.add('current');
        if (conv.mentioned) li.classList.add('mention');
        if (conv.kind === 'room' && !conv.joined) li.classList.add('parted');
        const button = el('button', 'conv-button');
        button.type = 'button';
        button.append(el('span', 'conv-name', conv.name));
        if (conv.unread) {
          button.append(el('span', 'badge', String(conv.unread)));
          if (key !== S.current) unreadElsewhere += conv.unread;
        }
        mention = mention || conv.mentioned;
        button.addEventListener('click', () => select(key));
        li.append(button);
        items.push(li);
      }
      dom.convList.replaceChildren(...items);
      dom.roomsBadge.hidden = !unreadElsewhere;
      dom.roomsBadge.textContent = String(unreadElsewhere);
      dom.roomsBadge.classList.toggle('mention', mention);
      const total = [...S.convs.values()].reduce((n, x) => n + x.unread, 0);
      document.title = (total ? `(${total}) ` : '') + `${c.name} — chat`;
      renderMembers(c);
      dom.older.textContent = c.kind !== 'room' ? '' : c.loadingOlder ? 'Loading older lines…' :
        c.historyStart ? 'Beginning of the history' : '';
      status();
    }

    function renderMembers(c) {
      const members = c.kind === 'room' ? [...c.members.values()] : [];
      members.sort((a, b) => (b.op - a.op) || (b.voice - a.voice) ||
        (fold(a.nick) < fold(b.nick) ? -1 : fold(a.nick) > fold(b.nick) ? 1 : 0));
      dom.memberCount.textContent = c.kind === 'room' ? `(${members.length})` : '';
      dom.memberList.replaceChildren(...members.map((m) => {
        const li = el('li', 'member');
        li.append(el('span', 'prefix', m.op ? '@' : m.voice ? '+' : ''));
        const name = el('button', `member-nick nick ${nickColour(m.nick)}`, m.nick);
        name.type = 'button';
        name.title = m.account ? `logged in as ${m.account}` : 'not logged in';
        name.addEventListener('click', () => { select(keyOf(privateConv(m.nick))); });
        li.append(name);
        if (m.account) li.append(el('span', 'account', '✓'));
        return li;
      }));
    }

    function status() {
      const words = {
        connecting: 'connecting…', registering: 'signing in…', connected: 'connected',
        waiting: 'reconnecting', closed: 'disconnected', login: '',
      };
      let text = words[S.phase] || S.phase;
      if (S.phase === 'waiting') {
        const secs = Math.max(0, Math.ceil((S.retryAt - Date.now()) / 1000));
        text = `disconnected: ${S.detail}; retry in ${secs}s`;
      } else if (S.phase === 'connected' && S.detail) {
        text = S.detail;
      }
      dom.status.textContent = text;
      dom.status.dataset.state = S.phase;
      dom.input.placeholder = S.phase === 'connected' ? 'Message, or /help' : 'Not connected…';
    }
    setInterval(() => { if (S.phase === 'waiting') status(); }, 1000);

    function loggedIn() {
      dom.login.hidden = true;
      dom.app.hidden = false;
      if (document.activeElement !== dom.input) dom.input.focus();
    }

    function backToLogin(message) {
      S.phase = 'login';
      const ws = S.ws;
      S.ws = null;
      if (ws) ws.close(1000);
      clearTimeout(S.retryTimer);
      dom.app.hidden = true;
      dom.login.hidden = false;
      dom.loginError.textContent = message;
      dom.loginNick.focus();
    }

    // Type a prefix, Tab: the nicks of this room (or the rooms we know) that start with it.
    function complete() {
      const input = dom.input;
      const upto = input.value.slice(0, input.selectionStart);
      const word = upto.match(/[^\s]*$/)[0];
      if (!word) return;
      const c = current();
      const pool = word.startsWith('#') ? [...S.convs.values()].filter((x) => x.kind === 'room')
        .map((x) => x.name) : [...c.members.values()].map((m) => m.nick);
      const found = pool.filter((n) => fold(n).startsWith(fold(word))).sort();
      if (!found.length) return;
      const suffix = upto.length === word.length && !word.startsWith('#') ? ': ' : ' ';
      const done = upto.slice(0, upto.length - word.length) + found[0] + suffix;
      input.value = done + input.value.slice(input.selectionStart);
      input.setSelectionRange(done.length, done.length);
    }

    function wire() {
      dom.loginForm.addEventListener('submit', (e) => {
        e.preventDefault();
        const nick = dom.loginNick.value.trim();
        const password = dom.loginPassword.value;
        const register = dom.loginRegister.checked;
        if (!nick) { dom.loginError.textContent = 'Choose a nickname.'; return; }
        if (register && password.length < 8) {
          dom.loginError.textContent = 'A password to register needs 8 characters or more.';
          return;
        }
        dom.loginError.textContent = '';
        dom.loginPassword.value = '';
        try { localStorage.setItem('chat.nick', nick); } catch { /* private mode */ }
        try { localStorage.setItem('chat.rooms', dom.loginRooms.value); } catch { /* ditto */ }
        start(nick, password, register, dom.loginRooms.value.split(/[\s,]+/).filter(Boolean));
      });
      dom.loginRegister.addEventListener('change', () => {
        dom.loginPassword.autocomplete = dom.loginRegister.checked ? 'new-password' : 'current-password';
      });
      try {
        dom.loginNick.value = localStorage.getItem('chat.nick') || '';
        dom.loginRooms.value = localStorage.getItem('chat.rooms') ?? '#lobby';
      } catch { /* storage may be off */ }
      dom.inputForm.addEventListener('submit', (e) => {
        e.preventDefault();
        const text = dom.input.value;
        if (!text.trim()) return;
        if (run(text) !== false) {
          dom.input.value = '';
          S.inputHistory.push(text);
          if (S.inputHistory.length > INPUT_HISTORY) S.inputHistory.shift();
        }
        S.inputPos = -1;
      });
      dom.input.addEventListener('keydown', (e) => {
        if (e.key === 'Tab' && !e.shiftKey && dom.input.value) {
          e.preventDefault();
          complete();
        } else if ((e.key === 'ArrowUp' || e.key === 'ArrowDown') && S.inputHistory.length) {
          const n = S.inputHistory.length;
          let pos = S.inputPos < 0 ? n : S.inputPos;
          pos = e.key === 'ArrowUp' ? Math.max(0, pos - 1) : pos + 1;
          if (pos >= n) { S.inputPos = -1; dom.input.value = ''; } else {
            S.inputPos = pos;
            dom.input.value = S.inputHistory[pos];
          }
          e.preventDefault();
        } else if (e.altKey && /^[0-9]$/.test(e.key)) { // Alt+1..9: switch conversation
          const keys = [...S.convs.keys()];
          const i = e.key === '0' ? 9 : Number(e.key) - 1;
          if (keys[i]) select(keys[i]);
          e.preventDefault();
        }
      });
      dom.scroller.addEventListener('scroll', () => {
        if (dom.scroller.scrollTop < 40) requestOlder(current());
        if (nearBottom()) { const c = current(); if (c.unread) { c.unread = 0; changed(); } }
      });
      // No scroll bar yet (a short history): scrolling up with the wheel still asks for more.
      dom.scroller.addEventListener('wheel', (e) => {
        if (e.deltaY < 0 && dom.scroller.scrollTop < 40) requestOlder(current());
      }, { passive: true });
      $('toggle-rooms').addEventListener('click', () => {
        document.body.classList.toggle('show-rooms');
        document.body.classList.remove('show-members');
      });
      $('toggle-members').addEventListener('click', () => {
        document.body.classList.toggle('show-members');
        document.body.classList.remove('show-rooms');
      });
      $('shade').addEventListener('click', () => {
        document.body.classList.remove('show-rooms', 'show-members');
      });
      document.addEventListener('visibilitychange', () => { if (!document.hidden) changed(); });
    }

    return { appended, inserted, showConversation, changed, render, status, loggedIn,
             backToLogin, wire, dom };
  })();

  // -- slash commands -------------------------------------------------------------------------

  const COMMANDS = {};
  function command(names, usage, help, fn) {
    for (const name of names.split(' ')) COMMANDS[name] = { usage, help, fn, main: names.split(' ')[0] };
  }

  function roomArg(args) {
    // "/part #room reason" or "/part reason" (the current room)
    const [first, ...rest] = args.split(' ');
    if (first && /^[#&]/.test(first)) return [first, rest.join(' ')];
    const c = current();
    return [c.kind === 'room' ? c.name : null, args];
  }

  function say(text, kind) {
    const c = current();
    if (c.kind === 'server') {
      info('This is the server tab: /join #room to talk, /rooms to list rooms.', c, 'error');
      return false;
    }
    if (c.kind === 'room' && !c.joined) {
      info(`You are not in ${c.name}; /join ${c.name} first.`, c, 'error');
      return false;
    }
    return request({ type: 'message', to: c.name, text, kind });
  }

  function needRoom(room) {
    if (room) return true;
    info('Which room? Go to a room or name it (#room).', current(), 'error');
    return false;
  }

  command('help', '/help', 'this list', () => {
    const seen = new Set();
    info('Commands (Tab completes nicks; Alt+1…9 switches conversations):');
    for (const cmd of Object.values(COMMANDS)) {
      if (seen.has(cmd.main)) continue;
      seen.add(cmd.main);
      info(`  ${cmd.usage} — ${cmd.help}`);
    }
    return true;
  });
  command('join j', '/join #room [key]', 'join (or create) a room', (args) => {
    const [room, key] = args.split(/\s+/);
    if (!room) return needRoom(null);
    const name = /^[#&]/.test(room) ? room : '#' + room;
    S.expectJoin.add(fold(name));
    const c = roomConv(name);
    if (c && c.joined) { select(keyOf(c)); return true; }
    return request(key ? { type: 'join', room: name, key } : { type: 'join', room: name });
  });
  command('part leave', '/part [#room] [reason]', 'leave a room', (args) => {
    const [room, reason] = roomArg(args);
    if (!needRoom(room)) return false;
    const c = roomConv(room);
    if (c && !c.joined) { closeConv(keyOf(c)); return true; }
    return request({ type: 'part', room, reason });
  });
  command('nick', '/nick name', 'change your nickname', (args) => {
    if (!args) { info('Usage: /nick name', current(), 'error'); return false; }
    return request({ type: 'nick', nick: args.split(' ')[0] });
  });
  command('me', '/me does something', 'an action', (args) => say(args, 'action'));
  command('msg query', '/msg nick [text]', 'a private message (opens a conversation)', (args) => {
    const [nick, ...rest] = args.split(' ');
    if (!nick) { info('Usage: /msg nick text', current(), 'error'); return false; }
    const text = rest.join(' ');
    select(keyOf(privateConv(nick)));
    return text ? request({ type: 'message', to: nick, text }) : true;
  });
  command('topic', '/topic [text]', 'show or set the topic of this room', (args) => {
    const c = current();
    if (c.kind !== 'room') return needRoom(null);
    return request(args ? { type: 'topic', room: c.name, topic: args } : { type: 'topic', room: c.name });
  });
  command('who names', '/who [#room]', 'who is in a room', (args) => {
    const [room] = roomArg(args);
    return needRoom(room) && request({ type: 'who', room });
  });
  command('rooms list', '/rooms', 'every room on the server', () => request({ type: 'rooms' }));
  command('whois', '/whois nick', 'about someone', (args) =>
    (args ? request({ type: 'whois', nick: args.split(' ')[0] })
      : (info('Usage: /whois nick', current(), 'error'), false)));
  command('away', '/away [message]', 'mark yourself away (no message: back)', (args) =>
    request({ type: 'away', text: args }));
  command('back', '/back', 'no longer away', () => request({ type: 'away', text: '' }));
  command('login', '/login [account] password', 'log in to your account', (args) => {
    const parts = args.split(' ').filter(Boolean);
    if (!parts.length || parts.length > 2) { info('Usage: /login [account] password', current(), 'error'); return false; }
    const [account, password] = parts.length === 2 ? parts : [S.nick, parts[0]];
    return accountRequest({ type: 'login', account, password }, { account, password });
  });
  command('register', '/register password', 'register your nickname as an account', (args) => {
    if (!args) { info('Usage: /register password', current(), 'error'); return false; }
    return accountRequest({ type: 'register', password: args }, { password: args });
  });
  command('logout', '/logout', 'log out of your account', () =>
    accountRequest({ type: 'logout' }, {}));
  command('password', '/password old new', 'change your password', (args) => {
    const [old, now] = args.split(' ');
    if (!old || !now) { info('Usage: /password old new', current(), 'error'); return false; }
    return accountRequest({ type: 'password', old, new: now }, { password: now });
  });
  command('kick', '/kick nick [reason]', 'remove someone from this room (operators)', (args) => {
    const c = current();
    const [nick, ...rest] = args.split(' ');
    if (c.kind !== 'room' || !nick) { info('Usage (in a room): /kick nick [reason]', c, 'error'); return false; }
    return request({ type: 'kick', room: c.name, nick, reason: rest.join(' ') });
  });
  command('invite', '/invite nick [#room]', 'invite someone to a room', (args) => {
    const [nick, room] = args.split(' ');
    const target = room || (current().kind === 'room' ? current().name : null);
    if (!nick || !target) { info('Usage: /invite nick [#room]', current(), 'error'); return false; }
    return request({ type: 'invite', nick, room: target });
  });
  command('mode', '/mode [#room] [+modes args]', 'show or change modes', (args) => {
    let [target, modes, ...rest] = args.split(' ').filter(Boolean);
    if (!target || !/^[#&]/.test(target)) {
      rest = modes ? [modes, ...rest] : rest;
      modes = target;
      target = current().kind === 'room' ? current().name : S.nick;
    }
    return request(modes ? { type: 'mode', target, modes, args: rest } : { type: 'mode', target });
  });
  for (const [name, modes] of [['op', '+o'], ['deop', '-o'], ['voice', '+v'], ['devoice', '-v']]) {
    command(name, `/${name} nick`, `${modes} in this room`, (args) => {
      const c = current();
      if (c.kind !== 'room' || !args) { info(`Usage (in a room): /${name} nick`, c, 'error'); return false; }
      return request({ type: 'mode', target: c.name, modes, args: [args.split(' ')[0]] });
    });
  }
  command('close', '/close', 'close this conversation (leaves a room)', () => {
    const c = current();
    if (c.kind === 'room' && c.joined) return request({ type: 'part', room: c.name });
    closeConv(S.current);
    return true;
  });
  command('clear', '/clear', 'clear this conversation on screen', () => {
    const c = current();
    c.lines = [];
    view.showConversation();
    return true;
  });
  command('reconnect', '/reconnect', 'reconnect now', () => {
    if (S.phase === 'waiting') connect();
    else if (S.ws) S.ws.close();
    return true;
  });
  command('quit', '/quit [reason]', 'leave the chat', (args) => {
    send({ type: 'quit', reason: args || 'Leaving' });
    S.credentials = null;
    S.registeredOnce = false;
    for (const key of [...S.convs.keys()]) if (key !== SERVER) S.convs.delete(key);
    S.current = SERVER;
    view.backToLogin('You left the chat.');
    return true;
  });

  function run(text) {
    if (text.startsWith('/') && !text.startsWith('//')) {
      const space = text.indexOf(' ');
      const name = (space < 0 ? text.slice(1) : text.slice(1, space)).toLowerCase();
      const args = space < 0 ? '' : text.slice(space + 1).trim();
      const cmd = COMMANDS[name];
      if (!cmd) {
        info(`Unknown command /${name}. Type /help for the list.`, current(), 'error');
        return false;
      }
      return cmd.fn(args);
    }
    return say(text.startsWith('//') ? text.slice(1) : text, 'message');
  }

  // -- start-up -------------------------------------------------------------------------------

  function start(nick, password, register, rooms) {
    S.wanted = nick;
    setNick(nick);
    S.initialRooms = rooms.map((r) => (/^[#&]/.test(r) ? r : '#' + r));
    S.credentials = password ? { account: nick, password, register } : null;
    S.failures = 0;
    view.loggedIn();
    view.showConversation();
    connect();
  }

  view.wire();
  view.dom.login.hidden = false;
  // A hook for tests and for people curious in the console; it holds no password.
  window.chatState = () => ({
    phase: S.phase, nick: S.nick, account: S.account, current: S.current,
    rooms: joinedRooms(), failures: S.failures,
  });
})();
