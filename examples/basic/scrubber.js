// A frame-accurate scrubber: the range input sets the composition time.
import { createPreview, mountNested } from "vite-plugin-framecache/runtime";

const stage = document.getElementById("preview");
const range = document.getElementById("time");
const readout = document.getElementById("readout");

mountNested(stage).then(() => {
  const preview = createPreview(stage);
  const seek = () => {
    const t = Number(range.value);
    preview.seek(t);
    readout.value = `${t.toFixed(3)} s`;
  };
  range.addEventListener("input", seek);
  seek();
  document.body.dataset.ready = "true";
});
