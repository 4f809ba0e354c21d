// The convolution of chapter 2, computed and drawn in the browser (an anywidget front end).
//
// The Python side (convolution_view.py) only passes data: image (C x H x W), kernel
// (C x k x k), bias, stride, padding, dilation and the output position (row, col). Everything a
// reader sees is computed here, so the page works with no Python kernel behind it. The two
// exported functions are the one place of that arithmetic; tests run them in Node and compare
// every value with torch's F.conv2d.

/** Output length along one axis: floor((size + 2 padding - dilation (k - 1) - 1) / stride) + 1. */
export function outputSize(size, k, stride, padding, dilation) {
  return Math.floor((size + 2 * padding - dilation * (k - 1) - 1) / stride) + 1;
}

/** The input pixel under kernel offset (a, b) of the window at output (row, col): zero in the
 *  padding. Both functions below read the image only through this. */
function tap(plane, geometry, row, col, a, b) {
  const { stride, padding, dilation } = geometry;
  const y = row * stride - padding + a * dilation, x = col * stride - padding + b * dilation;
  return y >= 0 && y < plane.length && x >= 0 && x < plane[0].length ? plane[y][x] : 0;
}

/** The four steps at output position (row, col): window, elementwise product, sums, plus bias.
 *  image: C x H x W, kernel: C x k x k (nested arrays). */
export function stepAt(image, kernel, bias, geometry, row, col) {
  const k = kernel[0].length, range = [...Array(k).keys()];
  const window = image.map((plane) => range.map((a) => range.map((b) => tap(plane, geometry, row, col, a, b))));
  const product = window.map((win, c) => win.map((line, a) => line.map((v, b) => v * kernel[c][a][b])));
  const channelSums = product.map((prod) => prod.flat().reduce((s, v) => s + v, 0));
  const total = channelSums.reduce((s, v) => s + v, 0);
  return { row, col, window, product, channelSums, total, bias, value: total + bias };
}

/** The whole output map, H_out x W_out: the same sum as stepAt's, without keeping the steps
 *  (a kernel edit recomputes every position, so this loop must be quick). */
export function convolve(image, kernel, bias, geometry) {
  const { stride, padding, dilation } = geometry;
  const k = kernel[0].length;
  const rows = outputSize(image[0].length, k, stride, padding, dilation);
  const cols = outputSize(image[0][0].length, k, stride, padding, dilation);
  const output = [];
  for (let i = 0; i < rows; i++) {
    const line = new Array(cols);
    for (let j = 0; j < cols; j++) {
      let sum = bias;
      for (let c = 0; c < image.length; c++) {
        for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) sum += tap(image[c], geometry, i, j, a, b) * kernel[c][a][b];
      }
      line[j] = sum;
    }
    output.push(line);
  }
  return output;
}

// ----------------------------------------------------------------------------- drawing
const CHANNEL_NAMES = { 1: ["grey"], 3: ["R", "G", "B"] };
const CELL = 26;          // pixels per cell of the number tables
const MAP_SIZE = 180;     // the longer side of the image and output pictures, in pixels

function number(v) {
  return (Math.abs(v) < 0.005 ? 0 : v).toFixed(2);   // no "-0.00"
}

function element(tag, attributes = {}, children = []) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) el.setAttribute(key, value);
  el.append(...children);
  return el;
}

/** A k x k table of numbers; `inputs` makes its cells editable number boxes. */
function numberTable(k, caption, inputs = false) {
  const cells = [];
  const table = element("table", { class: "cv-table" }, [element("caption", {}, [caption])]);
  for (let a = 0; a < k; a++) {
    const tr = element("tr");
    for (let b = 0; b < k; b++) {
      const cell = inputs   // text, not type=number: no spinner eating the cell's width
        ? element("input", { type: "text", inputmode: "decimal", "aria-label": `${caption}, row ${a}, column ${b}` })
        : element("td");
      cells.push(cell);
      tr.append(inputs ? element("td", {}, [cell]) : cell);
    }
    table.append(tr);
  }
  return { table, cells };
}

/** Paint a map (H x W nested array) on a canvas: grey for images, blue-white-red for signed maps,
 *  [r, g, b] pixels as colour. `upTo` (a flat index) leaves later cells light grey: the positions
 *  the kernel has not reached yet. Returns the number of screen pixels per map cell. */
function paint(canvas, map, signed, upTo = Infinity) {
  const height = map.length, width = map[0].length;
  const pixels = new ImageData(width, height);
  let limit = 1e-9;
  if (signed) for (const line of map) for (const v of line) limit = Math.max(limit, Math.abs(v));
  const byte = (x) => Math.round(255 * Math.max(0, Math.min(1, x)));
  map.forEach((line, i) => line.forEach((v, j) => {
    let rgb;
    if (i * width + j > upTo) rgb = [221, 221, 221];
    else if (Array.isArray(v)) rgb = v.map(byte);
    else if (signed) {   // red positive, blue negative, white zero
      const t = Math.max(-1, Math.min(1, v / limit)), fade = Math.round(255 * (1 - Math.abs(t)));
      rgb = t >= 0 ? [255, fade, fade] : [fade, fade, 255];
    } else rgb = [byte(v), byte(v), byte(v)];
    pixels.data.set([...rgb, 255], 4 * (i * width + j));
  }));
  // Draw at one pixel per cell, then scale up without smoothing: every cell stays a crisp square.
  const scale = Math.max(1, Math.floor(MAP_SIZE / Math.max(height, width)));
  const cells = document.createElement("canvas");
  cells.width = width;
  cells.height = height;
  cells.getContext("2d").putImageData(pixels, 0, 0);
  canvas.width = width * scale;
  canvas.height = height * scale;
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(cells, 0, 0, canvas.width, canvas.height);
  return scale;
}

/** The image as the kernel sees it, padded with zeros: grey values, or [r, g, b] pixels. */
function paddedPicture(image, padding) {
  const height = image[0].length, width = image[0][0].length;
  return Array.from({ length: height + 2 * padding }, (_, y) =>
    Array.from({ length: width + 2 * padding }, (_, x) => {
      const yy = y - padding, xx = x - padding;
      const inside = yy >= 0 && yy < height && xx >= 0 && xx < width;
      if (image.length === 3) return image.map((plane) => (inside ? plane[yy][xx] : 0));
      return inside ? image.reduce((s, plane) => s + plane[yy][xx], 0) / image.length : 0;
    }));
}

function render({ model, el }) {
  const channels = model.get("image").length, k = model.get("kernel")[0].length;
  const names = CHANNEL_NAMES[channels] || Array.from({ length: channels }, (_, c) => `ch${c}`);
  const description = model.get("description");

  // Controls: the output position, and the geometry of the windows.
  const slider = (label) => element("input", { type: "range", min: "0", step: "1", "aria-label": label });
  const rowInput = slider("output row i"), colInput = slider("output column j");
  const select = (label, values) => element("select", { "aria-label": label },
    values.map((v) => element("option", { value: String(v) }, [String(v)])));
  // the usual choices, and whatever Python set
  const choices = (key, values) => [...new Set([...values, model.get(key)])].sort((a, b) => a - b);
  const strideInput = select("stride", choices("stride", [1, 2, 3]));
  const paddingInput = select("padding", choices("padding", [0, 1, 2]));
  const dilationInput = select("dilation", choices("dilation", [1, 2]));
  const presetInput = select("preset kernel", ["(edited)", ...Object.keys(model.get("presets"))]);
  const label = (text, input) => element("label", { class: "cv-control" }, [text + " ", input]);
  const controls = element("div", { class: "cv-controls" }, [
    label("row i", rowInput), label("column j", colInput), label("stride", strideInput),
    label("padding", paddingInput), label("dilation", dilationInput),
    ...(Object.keys(model.get("presets")).length ? [label("kernel", presetInput)] : []),
  ]);

  // Pictures: the padded image with the window, the output map; tables: per-channel numbers.
  const imageCanvas = element("canvas", { class: "cv-map", role: "img", "aria-label": "the image, with the window" });
  const outputCanvas = element("canvas", { class: "cv-map", role: "img", "aria-label": "the output map" });
  const perChannel = names.map((name) => ({
    window: numberTable(k, `window (${name})`),
    kernel: numberTable(k, `kernel (${name})`, true),
    product: numberTable(k, `product (${name})`),
    sum: element("div", { class: "cv-sum" }),
  }));
  const rows = perChannel.map((t) => element("div", { class: "cv-channel" },
    [t.window.table, element("span", { class: "cv-op" }, ["×"]), t.kernel.table,
     element("span", { class: "cv-op" }, ["="]), t.product.table, t.sum]));
  const readout = element("p", { class: "cv-readout", "aria-live": "polite" });
  const figure = element("div", { class: "cv-figure", role: "group", "aria-label": description }, [
    element("div", { class: "cv-pane" }, [imageCanvas]),
    element("div", { class: "cv-pane" }, rows),
    element("div", { class: "cv-pane" }, [outputCanvas]),
  ]);
  el.append(element("style", {}, [STYLE]), controls, figure, readout);

  const geometry = () => ({ stride: model.get("stride"), padding: model.get("padding"),
                            dilation: model.get("dilation") });
  let output = null;   // the whole output map, recomputed only when the kernel or geometry change
  let picture = null;  // the padded image, recomputed only when the image or padding change

  function redraw() {
    const image = model.get("image"), kernel = model.get("kernel"), bias = model.get("bias");
    const g = geometry();
    output = output || convolve(image, kernel, bias, g);
    const rowsOut = output.length, colsOut = output[0].length;
    const row = Math.min(model.get("row"), rowsOut - 1), col = Math.min(model.get("col"), colsOut - 1);
    const step = stepAt(image, kernel, bias, g, row, col);
    rowInput.max = String(rowsOut - 1); colInput.max = String(colsOut - 1);
    rowInput.value = String(row); colInput.value = String(col);
    strideInput.value = String(g.stride); paddingInput.value = String(g.padding);
    dilationInput.value = String(g.dilation);
    const same = (x, y) => JSON.stringify(x) === JSON.stringify(y);
    const preset = Object.entries(model.get("presets")).find(([, p]) => kernel.every((plane) => same(plane, p)));
    presetInput.value = preset ? preset[0] : "(edited)";

    // 1. the window on the padded image: every pixel the kernel reads is outlined
    picture = picture || paddedPicture(image, g.padding);
    const scale = paint(imageCanvas, picture, false);
    const ctx = imageCanvas.getContext("2d");
    ctx.strokeStyle = "#ffb000"; ctx.lineWidth = 2;
    const reach = g.dilation * (k - 1) + 1;
    ctx.strokeRect(col * g.stride * scale + 1, row * g.stride * scale + 1, reach * scale - 2, reach * scale - 2);
    if (g.dilation > 1) {   // a dilated kernel reads only some pixels of its window: mark them
      ctx.fillStyle = "#ffb000";
      for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) {
        const x = (col * g.stride + b * g.dilation + 0.5) * scale, y = (row * g.stride + a * g.dilation + 0.5) * scale;
        ctx.fillRect(x - scale / 4, y - scale / 4, scale / 2, scale / 2);
      }
    }
    // 2. and 3. the numbers of every channel
    perChannel.forEach((t, c) => {
      step.window[c].flat().forEach((v, i) => { t.window.cells[i].textContent = number(v); });
      kernel[c].flat().forEach((v, i) => {
        if (document.activeElement !== t.kernel.cells[i]) t.kernel.cells[i].value = number(v);
      });
      step.product[c].flat().forEach((v, i) => { t.product.cells[i].textContent = number(v); });
      t.sum.textContent = `sum ${number(step.channelSums[c])}`;
    });
    // 4. the output map, filled in up to the current position
    const outScale = paint(outputCanvas, output, true, model.get("fill") === "all" ? Infinity : row * colsOut + col);
    const octx = outputCanvas.getContext("2d");
    octx.strokeStyle = "#000"; octx.lineWidth = 2;
    octx.strokeRect(col * outScale + 1, row * outScale + 1, outScale - 2, outScale - 2);
    const sums = channels > 1 ? step.channelSums.map((s, c) => `${names[c]} ${number(s)}`).join(" + ") + " = " : "";
    readout.textContent = `sum ${sums}${number(step.total)}, plus bias ${number(bias)}: ` +
                          `output f[${row}, ${col}] = ${number(step.value)}`;
    readout.dataset.value = String(step.value);   // full precision, for tests
    el.dataset.drawn = String(Number(el.dataset.drawn || 0) + 1);
  }

  const save = (changes) => {
    for (const [key, value] of Object.entries(changes)) model.set(key, value);
    model.save_changes();   // harmless with no kernel: the page keeps its own state
  };
  rowInput.addEventListener("input", () => save({ row: Number(rowInput.value) }));
  colInput.addEventListener("input", () => save({ col: Number(colInput.value) }));
  for (const [input, key] of [[strideInput, "stride"], [paddingInput, "padding"], [dilationInput, "dilation"]]) {
    input.addEventListener("change", () => {
      const g = { ...geometry(), [key]: Number(input.value) }, image = model.get("image");
      const fits = Math.min(outputSize(image[0].length, k, g.stride, g.padding, g.dilation),
                            outputSize(image[0][0].length, k, g.stride, g.padding, g.dilation)) >= 1;
      if (fits) save({ [key]: g[key], row: 0, col: 0 });
      else input.value = String(model.get(key));   // the kernel would not fit: keep the old setting
    });
  }
  presetInput.addEventListener("change", () => {
    const preset = model.get("presets")[presetInput.value];
    if (preset) save({ kernel: model.get("kernel").map(() => preset) });
  });
  perChannel.forEach((t, c) => t.kernel.cells.forEach((input, i) => {
    input.addEventListener("change", () => {
      const value = Number(input.value);
      if (!Number.isFinite(value)) return;
      const kernel = model.get("kernel").map((plane) => plane.map((line) => line.slice()));
      kernel[c][Math.floor(i / k)][i % k] = value;
      save({ kernel });
    });
  }));
  for (const key of ["image", "kernel", "bias", "stride", "padding", "dilation", "fill"]) {
    model.on(`change:${key}`, () => {
      output = null;
      if (key === "image" || key === "padding") picture = null;
      redraw();
    });
  }
  model.on("change:row", redraw);
  model.on("change:col", redraw);
  redraw();
}

const STYLE = `
.cv-controls { display: flex; flex-wrap: wrap; gap: 0.3em 1.2em; margin-bottom: 0.4em; font-size: 0.9em; }
.cv-figure { display: flex; flex-wrap: wrap; align-items: center; gap: 1em; }
.cv-map { image-rendering: pixelated; border: 1px solid #888; background: #fff; }
.cv-channel { display: flex; align-items: center; gap: 0.3em; margin: 0.2em 0; }
.cv-table { border-collapse: collapse; font-family: monospace; font-size: 12px; }
.cv-table caption { font-size: 11px; caption-side: top; white-space: nowrap; }
.cv-table td { width: ${CELL}px; height: ${CELL * 0.8}px; text-align: center; border: 1px solid #bbb;
               padding: 0 2px; background: #fff; color: #000; }
.cv-table input { width: ${CELL + 20}px; font-family: monospace; font-size: 12px; border: 0; padding: 0 2px; }
.cv-op, .cv-sum { font-family: monospace; font-size: 13px; }
.cv-readout { font-family: monospace; font-size: 13px; margin: 0.3em 0; }
`;

export default { render };
