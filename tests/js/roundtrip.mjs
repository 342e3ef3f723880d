// stomp.js (as browsers use it) against mqgate's WebSocket door:
// node roundtrip.mjs WS_URL DESTINATION LOGIN PASSCODE
// Prints {"connected", "body", "denied"} as JSON: the body of a message sent to and received
// from DESTINATION, and the ERROR message of a SEND the authorization map refuses.
import { Client } from "@stomp/stompjs";
import WebSocket from "ws";

const [url, destination, login, passcode] = process.argv.slice(2);
const report = { connected: false, body: null, denied: null };
const timer = setTimeout(() => { console.error("timed out", JSON.stringify(report)); process.exit(1); }, 20000);

function done() {
  if (report.body !== null && report.denied !== null) {
    clearTimeout(timer);
    console.log(JSON.stringify(report));
    client.deactivate().then(() => process.exit(0));
  }
}

const client = new Client({
  webSocketFactory: () => new WebSocket(url, ["v12.stomp", "v11.stomp", "v10.stomp"]),
  connectHeaders: { login, passcode },
  reconnectDelay: 0,
  onConnect: () => {
    report.connected = true;
    client.subscribe(destination, (message) => { report.body = message.body; done(); });
    client.publish({ destination, body: "hello from stomp.js" });
    client.publish({ destination: "/queue/vault", body: "refused", headers: { receipt: "denied" } });
  },
  onStompError: (frame) => { report.denied = frame.headers.message; done(); },
  onWebSocketError: (event) => { console.error("websocket error", event.message); process.exit(1); },
});
client.activate();
