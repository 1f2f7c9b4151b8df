export type Rgb = [number, number, number]

/**
 * A distinct colour per class index: hues spaced by the golden angle so neighbouring ids never
 * look alike, with alternating lightness for large class counts (COCO has 80).
 */
export function classColor(index: number): Rgb {
  const hue = (index * 137.508) % 360
  const light = index % 2 === 0 ? 0.55 : 0.45
  const sat = 0.75
  const c = (1 - Math.abs(2 * light - 1)) * sat
  const hp = hue / 60
  const x = c * (1 - Math.abs((hp % 2) - 1))
  const [r, g, b] =
    hp < 1
      ? [c, x, 0]
      : hp < 2
        ? [x, c, 0]
        : hp < 3
          ? [0, c, x]
          : hp < 4
            ? [0, x, c]
            : hp < 5
              ? [x, 0, c]
              : [c, 0, x]
  const m = light - c / 2
  return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255)]
}

export const rgbCss = ([r, g, b]: readonly number[], alpha = 1): string =>
  alpha === 1 ? `rgb(${r}, ${g}, ${b})` : `rgba(${r}, ${g}, ${b}, ${alpha})`
