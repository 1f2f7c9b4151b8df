/**
 * Python's `'{:.Nf}'.format(x)`, so printed tables read exactly like the reference tools' output.
 * It differs from `toFixed` on exact binary midpoints (Python rounds half to even: 0.0625 -> 0.062)
 * and on non-finite values ('nan', 'inf').
 */
export function formatFixed(value: number, digits: number): string {
  if (Number.isNaN(value)) return 'nan'
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf'
  const twice = value * 2 * 10 ** digits
  if (Number.isInteger(twice) && Math.abs(twice) % 2 === 1) {
    // An exact midpoint: of the two neighbours, keep the one whose last digit is even.
    const lower = Math.floor(twice / 2)
    const even = lower % 2 === 0 ? lower : lower + 1
    return (even / 10 ** digits).toFixed(digits)
  }
  return value.toFixed(digits)
}

/** `'{:>W.Nf}'`: right-aligned in `width` characters. */
export function formatFixedWidth(value: number, width: number, digits: number): string {
  return formatFixed(value, digits).padStart(width)
}
