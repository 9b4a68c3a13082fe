// fastnn playground: the page side of the HTTP API in ../API.md.
//
// Three views share this file: the playground (a session that trains while
// the page listens to its event stream), the forward-propagation demo (one
// point through the session's network) and the gradient-flow view (a fresh
// deep network measured by the engine). Drawing happens in
// requestAnimationFrame from the latest state only, so a slow tab skips
// frames instead of falling behind the stream.
"use strict";

(() => {
  // ---------------------------------------------------------------- helpers

  const $ = (sel) => document.querySelector(sel);

  const COLOR = {
    neg: [245, 147, 34],   // class 0, negative weights: orange
    pos: [8, 119, 189],    // class 1, positive weights: blue
    white: [255, 255, 255],
    text: "#333",
    grid: "#ddd",
    train: "#555",
    test: "#111",
    vanishing: "#3f7fd1",
    normal: "#3aa357",
    exploding: "#d9453d",
  };

  const rgb = (c, a = 1) => `rgba(${c[0]},${c[1]},${c[2]},${a})`;
  const mix = (a, b, t) => [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * t));

  // probColor maps a probability of class 1 to orange (0), white (0.5), blue (1).
  function probColor(p, strength = 1) {
    if (!(p >= 0)) p = 0.5; // NaN from a diverged network: neutral
    if (p > 1) p = 1;
    const t = Math.abs(2 * p - 1) * strength;
    return mix(COLOR.white, p < 0.5 ? COLOR.neg : COLOR.pos, t);
  }

  // valueColor maps an activation or weight to orange (negative) or blue (positive).
  function valueColor(v, scale = 1) {
    const t = Math.min(1, Math.abs(v) / scale);
    return mix(COLOR.white, v < 0 ? COLOR.neg : COLOR.pos, t);
  }

  function fmt(v, digits = 3) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    if (!Number.isFinite(v) || Math.abs(v) >= 1e30) return v < 0 ? "−∞" : "∞";
    return v.toFixed(digits);
  }

  function fmtSci(v) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    if (v === 0) return "0";
    if (!Number.isFinite(v) || Math.abs(v) >= 1e30) return "∞";
    const a = Math.abs(v);
    return a >= 0.01 && a < 1000 ? v.toPrecision(3) : v.toExponential(2);
  }

  // fmtPow writes a power of ten as 1e-3, anything else as fmtSci does.
  function fmtPow(v) {
    const k = Math.log10(v);
    return Number.isInteger(k) ? `1e${k}` : fmtSci(v);
  }

  class APIError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(method, path, body) {
    const init = { method, headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    if (res.status === 204) return null;
    let data = null;
    try {
      data = await res.json();
    } catch (_) {
      // not JSON: fall through to the status check
    }
    if (!res.ok) {
      throw new APIError(res.status, (data && data.error) || `${method} ${path}: HTTP ${res.status}`);
    }
    return data;
  }

  // setupCanvas sizes a canvas's backing store for the device pixel ratio
  // once, and returns its 2-D context in CSS pixels.
  function setupCanvas(canvas) {
    const w = Number(canvas.getAttribute("width"));
    const h = Number(canvas.getAttribute("height"));
    const dpr = window.devicePixelRatio || 1;
    canvas.style.width = w + "px";
    canvas.style.height = h + "px";
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    return { ctx, w, h, canvas };
  }

  let statusTimer = 0;
  function showStatus(msg, isError = true) {
    const el = $("#status");
    el.textContent = msg;
    el.classList.toggle("error", isError);
    clearTimeout(statusTimer);
    if (msg) statusTimer = setTimeout(() => (el.textContent = ""), 8000);
  }

  // ------------------------------------------------------------ page state

  const pg = {
    session: null,      // {id, config}
    stream: null,       // EventSource of the session
    state: null,        // latest State
    points: null,       // {train, test, bounds}
    wantPlaying: false, // carried over to a new session
    hidden: [4, 2],     // neurons per hidden layer, as the controls show them
    creating: false,
    again: false,
    drawPending: false,
  };

  const boundaryCv = setupCanvas($("#boundary"));
  const lossCv = setupCanvas($("#loss-curve"));
  const netCv = setupCanvas($("#network"));
  const gfCv = setupCanvas($("#gradflow"));

  // ------------------------------------------------------- configuration

  function readConfig() {
    return {
      dataset: $("#dataset").value,
      noise: Number($("#noise").value),
      samples: Number($("#samples").value),
      test: Number($("#test").value),
      hidden: pg.hidden.slice(),
      act: $("#act").value,
      lr: Number($("#lr").value),
      batch: Number($("#batch").value),
    };
  }

  function updateLabels() {
    $("#noise-value").textContent = Number($("#noise").value).toFixed(2);
    $("#samples-value").textContent = $("#samples").value;
    $("#test-value").textContent = Math.round(Number($("#test").value) * 100) + "%";
    $("#batch-value").textContent = $("#batch").value;
    $("#layer-count").textContent = pg.hidden.length;
    $("#add-layer").disabled = pg.hidden.length >= 6;
    $("#remove-layer").disabled = pg.hidden.length <= 1;
    $("#gf-depth-value").textContent = $("#gf-depth").value;
    $("#gf-width-value").textContent = $("#gf-width").value;
  }

  // ---------------------------------------------------------- sessions

  // newSession replaces the session with one for the current controls. Calls
  // that come while one is being made are folded into one more round.
  async function newSession() {
    if (pg.creating) {
      pg.again = true;
      return;
    }
    pg.creating = true;
    document.body.dataset.ready = "false";
    try {
      do {
        pg.again = false;
        await createSessionOnce();
      } while (pg.again);
      document.body.dataset.ready = "true";
    } catch (err) {
      showStatus("Could not start a session: " + err.message);
    } finally {
      pg.creating = false;
    }
  }

  async function createSessionOnce() {
    const cfg = readConfig();
    let res;
    try {
      res = await api("POST", "/api/sessions", cfg);
    } catch (err) {
      if (!(err instanceof APIError && err.status === 429 && pg.session)) throw err;
      // Full: free ours first, then try once more.
      dropSession();
      res = await api("POST", "/api/sessions", cfg);
    }
    dropSession();
    pg.session = { id: res.id, config: res.config };
    pg.state = null;
    pg.points = null;
    document.body.dataset.session = res.id;
    document.body.dataset.dataset = res.config.dataset;
    // The controls changed while we waited: they hold the newer wish, and
    // the next round replaces this session at once.
    if (pg.again) return;
    reflectConfig(res.config); // the server's normalised config
    pg.points = await api("GET", `/api/sessions/${res.id}/points`);
    setForwardRange(pg.points.bounds);
    openStream(res.id);
    if (pg.wantPlaying) await control("play");
    layoutNeuronControls();
    requestDraw();
    requestForward();
  }

  // dropSession closes the stream of the current session and deletes it.
  function dropSession() {
    if (pg.stream) {
      pg.stream.close();
      pg.stream = null;
    }
    if (pg.session) {
      const id = pg.session.id;
      pg.session = null;
      api("DELETE", `/api/sessions/${id}`).catch(() => {}); // gone already is fine
    }
  }

  // reflectConfig shows the server's normalised config in the controls.
  function reflectConfig(c) {
    const set = (sel, v) => {
      if (v !== undefined && String($(sel).value) !== String(v)) $(sel).value = String(v);
    };
    set("#dataset", c.dataset);
    set("#act", c.act);
    set("#batch", c.batch);
    set("#noise", c.noise);
    set("#samples", c.samples);
    set("#test", c.test);
    if (Array.isArray(c.hidden)) pg.hidden = c.hidden.slice();
    updateLabels();
  }

  function openStream(id) {
    const es = new EventSource(`/api/sessions/${id}/events`);
    pg.stream = es;
    es.onmessage = (ev) => {
      if (pg.stream !== es) return;
      try {
        applyState(JSON.parse(ev.data), false);
      } catch (err) {
        showStatus("Bad event from the server: " + err.message);
      }
    };
    es.onerror = () => {
      // The browser reconnects by itself after a network error. A closed
      // stream means the server refused it (the session is gone): start over.
      if (pg.stream === es && es.readyState === EventSource.CLOSED) {
        showStatus("The session ended on the server; starting a new one.");
        pg.stream = null;
        pg.session = null;
        setTimeout(newSession, 1000);
      }
    };
  }

  // applyState takes a State from the stream or, with fromControl, from the
  // answer to a control request, which also decides whether a replacement
  // session should play.
  function applyState(st, fromControl) {
    pg.state = st;
    if (fromControl) pg.wantPlaying = st.playing;
    requestDraw();
    if (st.playing) requestForward(true);
  }

  async function control(action) {
    if (!pg.session) return;
    try {
      const id = pg.session.id;
      const st = await api("POST", `/api/sessions/${id}/control`, { action });
      if (pg.session && pg.session.id === id) applyState(st, true);
    } catch (err) {
      if (err instanceof APIError && err.status === 404) {
        pg.session = null;
        return newSession();
      }
      showStatus(`${action} failed: ${err.message}`);
    }
  }

  // ------------------------------------------------------------ drawing

  function requestDraw() {
    if (pg.drawPending) return;
    pg.drawPending = true;
    requestAnimationFrame(() => {
      pg.drawPending = false;
      drawAll();
    });
  }

  function drawAll() {
    const st = pg.state;
    $("#epoch").textContent = st ? String(st.epoch) : "0";
    $("#train-loss").textContent = st ? lossText(st.trainLoss) : "–";
    $("#test-loss").textContent = st ? lossText(st.testLoss) : "–";
    $("#play").disabled = !!(st && st.playing);
    $("#pause").disabled = !(st && st.playing);
    document.body.dataset.playing = st && st.playing ? "true" : "false";
    drawBoundary();
    drawLossCurve();
    drawNetwork();
  }

  // The server sends -1 for a loss that is not a number (a diverged network).
  const lossText = (v) => (v < 0 ? "diverged" : fmt(v, 3));

  // ---- decision boundary

  const heat = document.createElement("canvas");

  function drawBoundary() {
    const { ctx, w, h } = boundaryCv;
    ctx.clearRect(0, 0, w, h);
    const st = pg.state;
    const bounds = (st && st.grid && st.grid.bounds) || (pg.points && pg.points.bounds);
    if (!bounds) return;
    if (st && st.grid && st.grid.p && st.grid.p.length) {
      const n = st.grid.n;
      if (heat.width !== n) {
        heat.width = n;
        heat.height = n;
      }
      const hctx = heat.getContext("2d");
      const img = hctx.createImageData(n, n);
      for (let i = 0; i < n * n; i++) {
        const c = probColor(st.grid.p[i], 0.8);
        img.data[4 * i] = c[0];
        img.data[4 * i + 1] = c[1];
        img.data[4 * i + 2] = c[2];
        img.data[4 * i + 3] = 255;
      }
      hctx.putImageData(img, 0, 0);
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(heat, 0, 0, w, h); // row 0 is ymax, the top
    } else {
      ctx.fillStyle = "#f4f4f4";
      ctx.fillRect(0, 0, w, h);
    }
    const [xmin, xmax, ymin, ymax] = bounds;
    const px = (x) => ((x - xmin) / (xmax - xmin)) * w;
    const py = (y) => ((ymax - y) / (ymax - ymin)) * h;

    // axes through the origin, when it is in view
    ctx.strokeStyle = "rgba(0,0,0,0.12)";
    ctx.lineWidth = 1;
    ctx.beginPath();
    if (xmin < 0 && xmax > 0) {
      ctx.moveTo(px(0), 0);
      ctx.lineTo(px(0), h);
    }
    if (ymin < 0 && ymax > 0) {
      ctx.moveTo(0, py(0));
      ctx.lineTo(w, py(0));
    }
    ctx.stroke();

    if (pg.points) {
      for (const [x, y, label] of pg.points.train) {
        ctx.beginPath();
        ctx.arc(px(x), py(y), 3.2, 0, 2 * Math.PI);
        ctx.fillStyle = rgb(label > 0.5 ? COLOR.pos : COLOR.neg);
        ctx.fill();
        ctx.strokeStyle = "rgba(255,255,255,0.9)";
        ctx.lineWidth = 0.8;
        ctx.stroke();
      }
      for (const [x, y, label] of pg.points.test) {
        ctx.beginPath();
        ctx.arc(px(x), py(y), 3.2, 0, 2 * Math.PI);
        ctx.strokeStyle = "rgba(0,0,0,0.55)";
        ctx.lineWidth = 2.6;
        ctx.stroke();
        ctx.strokeStyle = rgb(label > 0.5 ? COLOR.pos : COLOR.neg);
        ctx.lineWidth = 1.6;
        ctx.stroke();
      }
    }

    // the forward demo's input point
    const x1 = Number($("#x1").value);
    const x2 = Number($("#x2").value);
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    ctx.moveTo(px(x1) - 7, py(x2));
    ctx.lineTo(px(x1) + 7, py(x2));
    ctx.moveTo(px(x1), py(x2) - 7);
    ctx.lineTo(px(x1), py(x2) + 7);
    ctx.stroke();

    $("#bounds-label").textContent =
      `x₁ ${fmt(xmin, 1)} … ${fmt(xmax, 1)}   x₂ ${fmt(ymin, 1)} … ${fmt(ymax, 1)}`;
  }

  // ---- loss curve

  function drawLossCurve() {
    const { ctx, w, h } = lossCv;
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = "#fafafa";
    ctx.fillRect(0, 0, w, h);
    const hist = (pg.state && pg.state.history) || [];
    if (hist.length === 0) return;
    const ok = (v) => Number.isFinite(v) && v >= 0 && v < 1e30;
    let top = 0;
    for (const [, tr, te] of hist) {
      if (ok(tr)) top = Math.max(top, tr);
      if (ok(te)) top = Math.max(top, te);
    }
    top = top > 0 ? top * 1.05 : 1;
    const e0 = hist[0][0];
    const e1 = Math.max(hist[hist.length - 1][0], e0 + 1);
    // Axes: loss from 0 to top on the left, epochs along the bottom.
    const left = 34, right = 6, above = 6, below = 16;
    const px = (e) => left + ((e - e0) / (e1 - e0)) * (w - left - right);
    const py = (v) => h - below - (Math.min(v, top) / top) * (h - above - below);
    ctx.strokeStyle = "#888";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(left, above);
    ctx.lineTo(left, h - below);
    ctx.lineTo(w - right, h - below);
    ctx.stroke();
    ctx.fillStyle = "#666";
    ctx.font = "10px system-ui, sans-serif";
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    ctx.fillText(top.toFixed(2), left - 3, py(top));
    ctx.fillText("0", left - 3, py(0));
    ctx.save();
    ctx.translate(9, (above + h - below) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center";
    ctx.fillText("loss", 0, 0);
    ctx.restore();
    ctx.textBaseline = "top";
    ctx.textAlign = "left";
    ctx.fillText(String(e0), left, h - below + 3);
    ctx.textAlign = "right";
    ctx.fillText(String(e1), w - right, h - below + 3);
    ctx.textAlign = "center";
    ctx.fillText("epoch", (left + w - right) / 2, h - below + 3);
    ctx.textBaseline = "alphabetic";
    lossCv.canvas.dataset.axes = `epoch ${e0}..${e1}, loss 0..${top.toFixed(2)}`;
    const line = (k, color, dash) => {
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.5;
      ctx.setLineDash(dash);
      ctx.beginPath();
      let started = false;
      for (const row of hist) {
        if (!ok(row[k])) continue;
        if (started) ctx.lineTo(px(row[0]), py(row[k]));
        else ctx.moveTo(px(row[0]), py(row[k]));
        started = true;
      }
      ctx.stroke();
      ctx.setLineDash([]);
    };
    line(2, COLOR.test, [4, 3]);
    line(1, COLOR.train, []);
  }

  // ---- network diagram

  const NET = { top: 20, bottom: 20, left: 36, right: 36, node: 22 };

  // columnX is the x of layer column i of total (input, hidden..., output).
  function columnX(i, total) {
    const { w } = netCv;
    if (total <= 1) return w / 2;
    return NET.left + (i * (w - NET.left - NET.right)) / (total - 1);
  }

  function nodeY(j, count) {
    const { h } = netCv;
    const avail = h - NET.top - NET.bottom;
    const gap = Math.min(avail / Math.max(count, 1), 36);
    const start = NET.top + (avail - gap * (count - 1)) / 2;
    return start + j * gap;
  }

  function drawNetwork() {
    const { ctx, w, h } = netCv;
    ctx.clearRect(0, 0, w, h);
    const layers = (pg.state && pg.state.layers) || null;
    // sizes: from the weights when we have them, else from the controls
    let sizes;
    if (layers && layers.length) {
      sizes = [layers[0].in, ...layers.map((l) => l.out)];
    } else {
      sizes = [2, ...pg.hidden, 1];
    }
    const total = sizes.length;
    const pos = sizes.map((n, i) => Array.from({ length: n }, (_, j) => [columnX(i, total), nodeY(j, n)]));

    // the largest |w| sets the scale of the lines
    let maxW = 0;
    if (layers) {
      for (const l of layers) for (const row of l.weights || []) for (const v of row) maxW = Math.max(maxW, Math.abs(v));
    }
    const half = NET.node / 2;
    if (layers && maxW > 0) {
      layers.forEach((l, li) => {
        const from = pos[li];
        const to = pos[li + 1];
        if (!from || !to) return;
        (l.weights || []).forEach((row, o) => {
          row.forEach((v, i) => {
            if (!from[i] || !to[o]) return;
            const t = Math.min(1, Math.abs(v) / maxW);
            const [x0, y0] = from[i];
            const [x1, y1] = to[o];
            ctx.strokeStyle = rgb(v >= 0 ? COLOR.pos : COLOR.neg, 0.25 + 0.75 * t);
            ctx.lineWidth = 0.5 + 5 * t;
            ctx.beginPath();
            ctx.moveTo(x0 + half, y0);
            const mx = (x0 + x1) / 2;
            ctx.bezierCurveTo(mx, y0, mx, y1, x1 - half, y1);
            ctx.stroke();
          });
        });
      });
    }

    // nodes: inputs labelled, hidden and output coloured by their bias
    ctx.font = "11px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    pos.forEach((col, ci) => {
      col.forEach(([x, y], j) => {
        let fill = "#fff";
        if (ci > 0 && layers && layers[ci - 1] && layers[ci - 1].bias) {
          fill = rgb(valueColor(layers[ci - 1].bias[j], Math.max(maxW, 1e-6)));
        }
        ctx.fillStyle = fill;
        ctx.strokeStyle = "#666";
        ctx.lineWidth = 1;
        if (ci === 0 || ci === total - 1) {
          ctx.beginPath();
          ctx.arc(x, y, half, 0, 2 * Math.PI);
          ctx.fill();
          ctx.stroke();
        } else {
          ctx.fillRect(x - half, y - half, NET.node, NET.node);
          ctx.strokeRect(x - half, y - half, NET.node, NET.node);
        }
        ctx.fillStyle = COLOR.text;
        if (ci === 0) ctx.fillText(j === 0 ? "x₁" : "x₂", x, y);
        if (ci === total - 1) ctx.fillText("y", x, y);
      });
    });
    ctx.fillStyle = "#888";
    ctx.font = "10px system-ui, sans-serif";
    ctx.fillText("input", columnX(0, total), h - 8);
    ctx.fillText("output", columnX(total - 1, total), h - 8);
  }

  // layoutNeuronControls puts a +/- pair above each hidden column.
  function layoutNeuronControls() {
    const box = $("#neuron-controls");
    box.textContent = "";
    const total = pg.hidden.length + 2;
    pg.hidden.forEach((n, i) => {
      const div = document.createElement("div");
      div.className = "neuron-control";
      div.style.left = columnX(i + 1, total) + "px";
      const plus = document.createElement("button");
      plus.type = "button";
      plus.className = "round small neuron-add";
      plus.dataset.layer = String(i);
      plus.textContent = "+";
      plus.title = `More neurons in hidden layer ${i + 1}`;
      plus.disabled = n >= 8;
      const minus = document.createElement("button");
      minus.type = "button";
      minus.className = "round small neuron-remove";
      minus.dataset.layer = String(i);
      minus.textContent = "−";
      minus.title = `Fewer neurons in hidden layer ${i + 1}`;
      minus.disabled = n <= 1;
      const label = document.createElement("span");
      label.className = "neuron-count";
      // the columns get narrow with many layers: the number alone then
      label.textContent = pg.hidden.length > 4 ? String(n) : `${n} neuron${n === 1 ? "" : "s"}`;
      label.title = `${n} neuron${n === 1 ? "" : "s"}`;
      div.append(plus, minus, label);
      box.append(div);
    });
  }

  // ----------------------------------------------------- forward demo

  const fwd = { busy: false, again: false, lastAuto: 0 };

  function setForwardRange(bounds) {
    if (!bounds) return;
    const [xmin, xmax, ymin, ymax] = bounds;
    for (const [sel, lo, hi] of [["#x1", xmin, xmax], ["#x2", ymin, ymax]]) {
      const el = $(sel);
      const old = Number(el.value);
      el.min = String(lo);
      el.max = String(hi);
      el.step = String((hi - lo) / 200);
      el.value = String(Math.min(hi, Math.max(lo, old)));
    }
    showForwardValues();
  }

  function showForwardValues() {
    $("#x1-value").textContent = Number($("#x1").value).toFixed(2);
    $("#x2-value").textContent = Number($("#x2").value).toFixed(2);
  }

  // requestForward asks for the current point; while training runs it is
  // called with auto = true and limited to a few times a second.
  function requestForward(auto = false) {
    if (auto) {
      const now = performance.now();
      if (now - fwd.lastAuto < 300) return;
      fwd.lastAuto = now;
    }
    if (fwd.busy) {
      fwd.again = true;
      return;
    }
    runForward();
  }

  async function runForward() {
    if (!pg.session) return;
    fwd.busy = true;
    try {
      do {
        fwd.again = false;
        const id = pg.session && pg.session.id;
        if (!id) break;
        const x = [Number($("#x1").value), Number($("#x2").value)];
        try {
          const res = await api("POST", `/api/sessions/${id}/forward`, { x });
          if (pg.session && pg.session.id === id) renderForward(res.layers);
        } catch (err) {
          if (!(err instanceof APIError && err.status === 404)) showStatus("forward: " + err.message);
        }
      } while (fwd.again);
    } finally {
      fwd.busy = false;
    }
  }

  function renderForward(values) {
    const out = $("#forward-output");
    out.textContent = "";
    if (!Array.isArray(values) || values.length < 2) return;
    const diagram = document.createElement("div");
    diagram.className = "fwd-diagram";
    values.forEach((vals, li) => {
      const col = document.createElement("div");
      col.className = "fwd-layer";
      const head = document.createElement("div");
      head.className = "fwd-head";
      head.textContent = li === 0 ? "input" : li === values.length - 1 ? "output" : `hidden ${li}`;
      col.append(head);
      vals.forEach((v, j) => {
        const cell = document.createElement("div");
        cell.className = "fwd-neuron";
        const isOut = li === values.length - 1;
        const c = isOut ? probColor(v) : valueColor(v, li === 0 ? 2 : 1);
        cell.style.background = rgb(c);
        cell.style.color = Math.abs(isOut ? 2 * v - 1 : v) > 0.7 ? "#fff" : COLOR.text;
        const name = li === 0 ? `x${j + 1}` : isOut ? "y" : `h${j + 1}`;
        cell.textContent = `${name} = ${fmt(v, 3)}`;
        col.append(cell);
      });
      diagram.append(col);
      if (li < values.length - 1) {
        const arrow = document.createElement("div");
        arrow.className = "fwd-arrow";
        arrow.textContent = "→";
        diagram.append(arrow);
      }
    });
    out.append(diagram);

    // y = sigmoid(sum w h + b) with the last layer's weights
    const p = values[values.length - 1][0];
    const h = values[values.length - 2];
    const eq = document.createElement("div");
    eq.className = "fwd-equation";
    const layers = pg.state && pg.state.layers;
    const last = layers && layers[layers.length - 1];
    if (last && last.weights && last.weights[0] && last.weights[0].length === h.length) {
      const w = last.weights[0];
      const b = last.bias[0];
      // w1·h1 + w2·h2 ... + b, with signs written once and negative h in brackets
      const signed = (v, first) => (v < 0 ? (first ? "−" : " − ") : first ? "" : " + ") + fmt(Math.abs(v), 2);
      const factor = (v) => (v < 0 ? `(−${fmt(-v, 2)})` : fmt(v, 2));
      const sum = w.map((wi, i) => `${signed(wi, i === 0)}·${factor(h[i])}`).join("") + signed(b, false);
      const z = w.reduce((acc, wi, i) => acc + wi * h[i], b);
      eq.textContent = `y = σ(Σ w·h + b) = σ(${sum}) = σ(${fmt(z, 3)}) = ${fmt(p, 3)}`;
    } else {
      eq.textContent = `y = σ(Σ w·h + b) = ${fmt(p, 3)}`;
    }
    out.append(eq);
    const cls = document.createElement("div");
    cls.className = "fwd-class";
    cls.textContent = `predicted class ${p >= 0.5 ? 1 : 0} (probability of class 1: ${(100 * p).toFixed(1)}%)`;
    out.append(cls);
  }

  // --------------------------------------------------- gradient flow

  const gf = { seq: 0, timer: 0, result: null };

  function gfRequest() {
    return {
      act: $("#gf-act").value,
      depth: Number($("#gf-depth").value),
      width: Number($("#gf-width").value),
      weightScale: Number($("#gf-scale").value),
      residual: $("#gf-residual").checked,
      dataset: $("#gf-dataset").value,
    };
  }

  function gfSchedule() {
    clearTimeout(gf.timer);
    gf.timer = setTimeout(gfRun, 150);
  }

  async function gfRun() {
    clearTimeout(gf.timer);
    const req = gfRequest();
    const seq = ++gf.seq;
    const table = $("#gradflow-table");
    table.dataset.busy = "true";
    $("#gf-run").disabled = true;
    try {
      const res = await api("POST", "/api/gradflow", req);
      if (seq !== gf.seq) return; // a newer request is on its way
      gf.result = { req, res, error: null };
    } catch (err) {
      if (seq !== gf.seq) return;
      gf.result = { req, res: null, error: err.message };
    } finally {
      if (seq === gf.seq) {
        table.dataset.busy = "false";
        $("#gf-run").disabled = false;
      }
    }
    renderGradflow();
  }

  function gfClass(layer, res) {
    if (layer.flag === "vanishing" || layer.flag === "exploding") return layer.flag;
    if (layer.gradNorm < res.vanishingBelow) return "vanishing";
    if (layer.gradNorm > res.explodingAbove) return "exploding";
    return "normal";
  }

  function renderGradflow() {
    const r = gf.result;
    const table = $("#gradflow-table");
    const body = table.querySelector("tbody");
    body.textContent = "";
    if (!r) return;
    // what the table shows, so a reader (or a test) can tell it is current
    table.dataset.act = r.req.act;
    table.dataset.depth = String(r.req.depth);
    table.dataset.residual = String(r.req.residual);
    table.dataset.scale = String(r.req.weightScale);
    const msg = $("#gradflow-message");
    msg.textContent = r.error ? "The engine could not measure this network: " + r.error : "";
    if (r.error) {
      drawGradflow(null, "no figures: the training diverged");
      return;
    }
    // output layer first, as the bars
    const layers = r.res.layers.slice().reverse();
    layers.forEach((l) => {
      const tr = document.createElement("tr");
      const cls = gfClass(l, r.res);
      tr.className = cls;
      for (const text of [l.layer, fmtSci(l.gradNorm), fmtSci(l.weightNorm), fmtSci(l.updateRate), cls]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      body.append(tr);
    });
    drawGradflow(r.res);
  }

  function drawGradflow(res, note) {
    const { ctx, w, h } = gfCv;
    ctx.clearRect(0, 0, w, h);
    const m = { left: 46, right: 74, top: 14, bottom: 40 };
    const pw = w - m.left - m.right;
    const ph = h - m.top - m.bottom;
    if (!res || !res.layers || !res.layers.length) {
      ctx.fillStyle = "#999";
      ctx.font = "13px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.fillText(note || (res ? "no layers" : "–"), w / 2, h / 2);
      return;
    }
    const layers = res.layers.slice().reverse(); // output layer first
    const lo10 = (v) => Math.log10(Math.max(v, 1e-30));
    let lo = Math.log10(res.vanishingBelow) - 1;
    let hi = Math.log10(res.explodingAbove) + 1;
    for (const l of layers) {
      if (l.gradNorm > 0 && Number.isFinite(l.gradNorm)) {
        lo = Math.min(lo, Math.floor(lo10(l.gradNorm)));
        hi = Math.max(hi, Math.ceil(lo10(l.gradNorm)));
      }
    }
    lo = Math.max(lo, -12);
    hi = Math.min(hi, 40);
    const py = (v) => m.top + ph - ((Math.min(Math.max(lo10(v), lo), hi) - lo) / (hi - lo)) * ph;

    // bands
    const yVan = py(res.vanishingBelow);
    const yExp = py(res.explodingAbove);
    ctx.fillStyle = "rgba(63,127,209,0.08)";
    ctx.fillRect(m.left, yVan, pw, m.top + ph - yVan);
    ctx.fillStyle = "rgba(217,69,61,0.08)";
    ctx.fillRect(m.left, m.top, pw, yExp - m.top);

    // decade grid and labels
    ctx.font = "10px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    ctx.textAlign = "right";
    const stepDec = Math.max(1, Math.ceil((hi - lo) / 8));
    for (let k = Math.ceil(lo); k <= hi; k += stepDec) {
      const y = py(Math.pow(10, k));
      ctx.strokeStyle = COLOR.grid;
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(m.left, y);
      ctx.lineTo(m.left + pw, y);
      ctx.stroke();
      ctx.fillStyle = "#777";
      ctx.fillText(`1e${k}`, m.left - 5, y);
    }

    // bars
    const slot = pw / layers.length;
    const bw = Math.max(3, Math.min(36, slot * 0.7));
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    layers.forEach((l, i) => {
      const cls = gfClass(l, res);
      const x = m.left + slot * (i + 0.5);
      const top = l.gradNorm > 0 ? py(l.gradNorm) : m.top + ph;
      ctx.fillStyle = COLOR[cls] || COLOR.normal;
      ctx.fillRect(x - bw / 2, top, bw, m.top + ph - top);
      ctx.fillStyle = "#555";
      const name = l.layer.replace(/\.weight$/, "").replace(/\.block\.0$/, "");
      ctx.fillText(name, x, m.top + ph + 4);
    });

    // thresholds, labelled in the right margin
    ctx.setLineDash([5, 4]);
    ctx.lineWidth = 1.2;
    ctx.font = "10px system-ui, sans-serif";
    ctx.textAlign = "left";
    for (const [y, color, name, label] of [
      [yVan, COLOR.vanishing, "vanishing", `< ${fmtPow(res.vanishingBelow)}`],
      [yExp, COLOR.exploding, "exploding", `> ${fmtPow(res.explodingAbove)}`],
    ]) {
      ctx.strokeStyle = color;
      ctx.beginPath();
      ctx.moveTo(m.left, y);
      ctx.lineTo(m.left + pw + 4, y);
      ctx.stroke();
      ctx.fillStyle = color;
      ctx.textBaseline = "bottom";
      ctx.fillText(name, m.left + pw + 7, y - 1);
      ctx.textBaseline = "top";
      ctx.fillText(label, m.left + pw + 7, y + 1);
    }
    ctx.setLineDash([]);

    ctx.fillStyle = "#777";
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.fillText("← output layer                 layer (module index)                 input layer →", m.left + pw / 2, h - 2);
    ctx.save();
    ctx.translate(11, m.top + ph / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText("‖∂L/∂W‖ (log)", 0, 0);
    ctx.restore();
  }

  // ------------------------------------------------------------ wiring

  function onModelChange() {
    updateLabels();
    layoutNeuronControls();
    requestDraw();
    newSession();
  }

  for (const sel of ["#dataset", "#act", "#lr", "#noise", "#samples", "#test", "#batch"]) {
    $(sel).addEventListener("change", onModelChange);
    $(sel).addEventListener("input", updateLabels);
  }

  $("#add-layer").addEventListener("click", () => {
    if (pg.hidden.length >= 6) return;
    pg.hidden.push(pg.hidden.length ? pg.hidden[pg.hidden.length - 1] : 4);
    onModelChange();
  });
  $("#remove-layer").addEventListener("click", () => {
    if (pg.hidden.length <= 1) return;
    pg.hidden.pop();
    onModelChange();
  });
  $("#neuron-controls").addEventListener("click", (ev) => {
    const btn = ev.target.closest("button");
    if (!btn) return;
    const i = Number(btn.dataset.layer);
    const n = pg.hidden[i] + (btn.classList.contains("neuron-add") ? 1 : -1);
    if (n < 1 || n > 8) return;
    pg.hidden[i] = n;
    onModelChange();
  });

  $("#play").addEventListener("click", () => {
    pg.wantPlaying = true;
    control("play");
  });
  $("#pause").addEventListener("click", () => {
    pg.wantPlaying = false;
    control("pause");
  });
  $("#step").addEventListener("click", () => {
    pg.wantPlaying = false;
    control("step");
  });
  $("#reset").addEventListener("click", () => {
    pg.wantPlaying = false;
    control("reset");
  });

  for (const sel of ["#x1", "#x2"]) {
    $(sel).addEventListener("input", () => {
      showForwardValues();
      requestDraw(); // the cross on the boundary
      requestForward();
    });
  }

  for (const sel of ["#gf-act", "#gf-scale", "#gf-residual", "#gf-depth", "#gf-width", "#gf-dataset"]) {
    $(sel).addEventListener("change", gfSchedule);
    $(sel).addEventListener("input", updateLabels);
  }
  $("#gf-run").addEventListener("click", gfRun);

  // Free the session when the tab goes away (keepalive lets the request
  // outlive the page).
  window.addEventListener("pagehide", () => {
    if (pg.stream) pg.stream.close();
    if (pg.session) fetch(`/api/sessions/${pg.session.id}`, { method: "DELETE", keepalive: true }).catch(() => {});
    pg.stream = null;
    pg.session = null;
  });
  // Coming back from the back/forward cache: that session is gone.
  window.addEventListener("pageshow", (ev) => {
    if (ev.persisted) newSession();
  });

  updateLabels();
  layoutNeuronControls();
  requestDraw();
  drawGradflow(null);
  newSession();
  gfRun();
})();
