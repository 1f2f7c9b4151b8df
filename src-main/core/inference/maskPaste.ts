/**
 * Pastes a box-local mask (mmdeploy's [28,28] probabilities) into the full image the way mmdet's
 * `_do_paste_mask` does: each image pixel centre is mapped into the box, then into the mask with
 * grid_sample semantics (align_corners=False, zeros outside), bilinear.
 * Returns a binary mask (probability >= threshold) in column-major order, ready for RLE.
 */
export function pasteMask(
  mask: Float32Array,
  mh: number,
  mw: number,
  box: readonly [number, number, number, number],
  width: number,
  height: number,
  threshold = 0.5,
): { colMajor: Uint8Array; area: number } {
  const [bx0, by0, bx1, by1] = box
  const out = new Uint8Array(width * height)
  const bw = Math.max(bx1 - bx0, 1e-6)
  const bh = Math.max(by1 - by0, 1e-6)
  // Only pixels whose centre can land inside the mask (plus one for bilinear spill) can be set.
  const xs = Math.max(0, Math.floor(bx0) - 1)
  const xe = Math.min(width, Math.ceil(bx1) + 1)
  const ys = Math.max(0, Math.floor(by0) - 1)
  const ye = Math.min(height, Math.ceil(by1) + 1)
  let area = 0
  const sample = (u: number, v: number): number => {
    // grid_sample, align_corners=False: normalised [-1,1] -> pixel ((g + 1) * size - 1) / 2.
    const x0 = Math.floor(u)
    const y0 = Math.floor(v)
    const fx = u - x0
    const fy = v - y0
    const at = (x: number, y: number) =>
      x >= 0 && x < mw && y >= 0 && y < mh ? mask[y * mw + x]! : 0
    return (
      at(x0, y0) * (1 - fx) * (1 - fy) +
      at(x0 + 1, y0) * fx * (1 - fy) +
      at(x0, y0 + 1) * (1 - fx) * fy +
      at(x0 + 1, y0 + 1) * fx * fy
    )
  }
  for (let x = xs; x < xe; x++) {
    const gx = ((x + 0.5 - bx0) / bw) * 2 - 1
    const u = ((gx + 1) * mw - 1) / 2
    for (let y = ys; y < ye; y++) {
      const gy = ((y + 0.5 - by0) / bh) * 2 - 1
      const v = ((gy + 1) * mh - 1) / 2
      if (sample(u, v) >= threshold) {
        out[x * height + y] = 1
        area++
      }
    }
  }
  return { colMajor: out, area }
}
