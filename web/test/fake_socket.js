// Shared by the order-socket tests: a WebSocket double at the transport layer.

/** Records frames sent, lets the test play the server (serve), and bring a session live. */
export class FakeSocket {
  static all = [];
  constructor(url) {
    this.url = url;
    this.sent = [];
    this.readyState = 1;
    FakeSocket.all.push(this);
  }
  send(text) {
    this.sent.push(JSON.parse(text));
  }
  close() {
    this.readyState = 3;
    this.onclose?.({ code: 1000 });
  }
  serve(msg) {
    this.onmessage({ data: JSON.stringify(msg) });
  }
  /** The server's session and the answer to the client's first resume (after `latest`). */
  live(latest = 0) {
    this.serve({ type: "session", account: "a", server_time: 1, latest_exec_seq: latest, protocol: "tickwire/1" });
    this.serve({ type: "executions.resumed", req_id: `resume-${latest}`, latest_exec_seq: latest });
  }
}
