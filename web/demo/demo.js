// The demo page: join a room, and the newcomer calls everyone already there
// through Parley (RoomPeers answers whoever calls us). Each remote peer gets
// a card with its connection state, the selected candidate pair and a chat
// over an RTCDataChannel (plus video with "camera and microphone"); the
// room chat goes through Parley itself (message.send).
//
// On a cluster, ?nodes= lists the other nodes (ports on this page's host,
// host:port, or ws(s):// URLs): the client connects here and, should this
// node die or drain, resumes on another of them. The call is peer to peer
// and carries on; the room chat loses nothing.
import { ParleyClient, RoomPeers, selectedCandidatePair } from "/client/index.js";

const $ = (id) => document.getElementById(id);
const query = new URLSearchParams(location.search);
$("identity").value = query.get("identity") ?? `guest-${Math.random().toString(36).slice(2, 6)}`;
$("room").value = query.get("room") ?? $("room").value;
$("relay").checked = query.has("relay");
const nodes = clusterURLs(query.get("nodes"));
if (nodes.length > 1) {
  $("nodes").textContent = nodes.map((u) => new URL(u).host).join(", ");
  $("cluster").hidden = false;
}

/**
 * The signaling URLs: this page's node first, then those of ?nodes=, each
 * a port on this page's host, a host:port or a ws(s):// URL.
 */
function clusterURLs(list) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const urls = [`${scheme}://${location.host}/rpc`];
  for (const entry of (list ?? "").split(",").map((e) => e.trim()).filter(Boolean)) {
    const url = /^\d+$/.test(entry) ? `${scheme}://${location.hostname}:${entry}/rpc` : /^wss?:\/\//.test(entry) ? entry : `${scheme}://${entry}/rpc`;
    if (!urls.includes(url)) urls.push(url);
  }
  return urls;
}

/** The joined room: client, RoomPeers, local media, identities and cards by peerId. */
let joined;

function log(text) {
  $("log").append(`${new Date().toISOString().slice(11, 23)} ${text}\n`);
}

function setStatus(text) {
  $("status").textContent = text;
}

/** Shows an error where it is seen (not only in the collapsed log); null clears it. */
function showError(text) {
  $("error").textContent = text ?? "";
  $("error").hidden = !text;
}

/** The "waiting for a peer" hint: shown while joined with nobody to talk to. */
function updateWaiting() {
  $("waiting").hidden = !joined || joined.cards.size > 0 || joined.identities.size > 0;
}

$("join").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("joinButton").disabled = true;
  showError(null);
  try {
    await join($("identity").value, $("room").value, { video: $("video").checked, relay: $("relay").checked });
    $("leaveButton").disabled = false;
  } catch (err) {
    log(`join failed: ${err.stack ?? err}`);
    leave();
    // After leave(), which resets the status: the error stays in view.
    const reason = err.reason ? ` (${err.reason})` : "";
    showError(`Could not join ${$("room").value}: ${err.code ? `${err.code} ` : ""}${err.message}${reason}`);
    setStatus("not connected (join failed)");
  }
});
$("leaveButton").addEventListener("click", () => { showError(null); leave(); });

async function join(identity, roomId, { video, relay }) {
  setStatus("connecting");
  const client = await ParleyClient.connect(nodes, { identity });
  const local = video ? await navigator.mediaDevices.getUserMedia({ video: true, audio: true }) : undefined;
  joined = { client, roomId, local, identities: new Map(), cards: new Map(), calling: new Set() };
  // On a cluster the status names the node: after a move, the new one.
  const where = () => (nodes.length > 1 ? ` on ${new URL(client.url).host}` : "");
  const status = (state) => setStatus(`${state} as ${client.session.identity} (${client.session.peerId})${where()}`);
  client.onState((state, cause) => {
    status(state);
    log(`signaling ${state}${state === "open" ? `${where()}${client.session.resumed ? ", session resumed" : ""}` : ""}${cause ? ` (${cause.message})` : ""}`);
    $("say").querySelectorAll("input, button").forEach((el) => { el.disabled = state !== "open"; });
  });
  status("open");
  joined.room = new RoomPeers(client, roomId, {
    rtcConfig: relay ? { iceTransportPolicy: "relay" } : {},
    // Every session, whether it calls us or we call it (room.connect),
    // comes through here, before any offer is made or applied.
    onPeer: (ps) => attach(ps, joined.calling.has(ps.peerId)),
    onError: (err) => log(`webrtc: ${err.message}`),
  });
  client.on("room.peerJoined", ({ peer }) => {
    joined.identities.set(peer.peerId, peer.identity);
    log(`${peer.identity} (${peer.peerId}) joined`);
    updateWaiting();
  });
  client.on("room.peerLeft", ({ peerId, reason }) => {
    log(`${joined.identities.get(peerId) ?? peerId} left (${reason})`);
    joined.identities.delete(peerId);
    joined.cards.get(peerId)?.remove();
    joined.cards.delete(peerId);
    updateWaiting();
  });
  client.on("message.received", ({ from, data }) => roomChat(`${joined.identities.get(from) ?? from}: ${typeof data === "string" ? data : JSON.stringify(data)}`));
  const { peers } = await client.room.join({ roomId, create: true });
  log(`joined ${roomId} with ${peers.length} other peer(s)`);
  $("say").querySelectorAll("input, button").forEach((el) => { el.disabled = false; });
  for (const peer of peers) {
    joined.identities.set(peer.peerId, peer.identity);
    joined.calling.add(peer.peerId);
    joined.room.connect(peer.peerId);
  }
  updateWaiting();
}

/** One line of the room chat. */
function roomChat(line) {
  $("roomChat").append(`${line}\n`);
}

// The room chat goes through Parley (message.send to the room): while the
// page resumes on another node the form is disabled, and what others said
// meanwhile arrives once the session is back.
$("say").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("say").querySelector("input");
  const text = input.value;
  if (!joined || !text) return;
  try {
    await joined.client.message.send({ roomId: joined.roomId, data: text });
    roomChat(`me: ${text}`);
    input.value = "";
  } catch (err) {
    log(`not sent: ${err.message}`);
  }
});

function leave() {
  if (joined) {
    joined.room?.close();
    joined.local?.getTracks().forEach((t) => t.stop());
    joined.client.close();
    joined = undefined;
  }
  $("peers").replaceChildren();
  $("say").querySelectorAll("input, button").forEach((el) => { el.disabled = true; });
  updateWaiting();
  setStatus("not connected");
  $("joinButton").disabled = false;
  $("leaveButton").disabled = true;
}

/** A card for one remote peer; the caller opens the data channel, the callee receives it. */
function attach(ps, caller) {
  const card = $("peerTemplate").content.firstElementChild.cloneNode(true);
  const field = (name) => card.querySelector(`[data-field=${name}]`);
  card.dataset.peer = ps.peerId;
  const name = joined.identities.get(ps.peerId) ?? "peer";
  card.querySelector("h2").textContent = `${name} (${ps.peerId})${ps.polite ? ", polite" : ""}`;
  field("localLabel").textContent = `you (${joined.client.session.identity})`;
  field("remoteLabel").textContent = name;
  joined.cards.get(ps.peerId)?.remove();
  joined.cards.set(ps.peerId, card);
  $("peers").append(card);
  updateWaiting();

  const pc = ps.pc;
  pc.addEventListener("signalingstatechange", () => { field("signaling").textContent = pc.signalingState; });
  // The pair is re-read every second while connected, not once: ICE may
  // switch pairs, and a remote candidate first seen in a connectivity check
  // (prflx) takes its real type (e.g. relay) only when its trickled
  // candidate arrives, which can be after the connection is up.
  let pairTimer;
  const showPair = async () => {
    const pair = await selectedCandidatePair(pc);
    field("pair").textContent = pair
      ? `${pair.local.type} ${pair.local.address}:${pair.local.port} ⇄ ${pair.remote.type} ${pair.remote.address}:${pair.remote.port} (${pair.local.protocol})`
      : "none";
  };
  ps.onState((state) => {
    field("connection").textContent = state;
    log(`${ps.peerId}: ${state}`);
    clearInterval(pairTimer);
    if (state === "connected") {
      showPair();
      pairTimer = setInterval(showPair, 1000);
    }
  });
  if (joined.local) {
    card.querySelector(".videos").hidden = false;
    field("local").srcObject = joined.local;
    for (const track of joined.local.getTracks()) pc.addTrack(track, joined.local);
    pc.addEventListener("track", (e) => { field("remote").srcObject = e.streams[0] ?? new MediaStream([e.track]); });
  }
  const chat = (channel) => {
    const input = field("send").querySelector("input");
    const button = field("send").querySelector("button");
    channel.addEventListener("open", () => { input.disabled = button.disabled = false; });
    channel.addEventListener("close", () => { input.disabled = button.disabled = true; });
    channel.addEventListener("message", (e) => field("chat").append(`them: ${e.data}\n`));
    field("send").addEventListener("submit", (e) => {
      e.preventDefault();
      channel.send(input.value);
      field("chat").append(`me: ${input.value}\n`);
      input.value = "";
    });
  };
  if (caller) chat(pc.createDataChannel("chat"));
  else pc.addEventListener("datachannel", (e) => chat(e.channel));
}
