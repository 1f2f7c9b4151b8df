import sharp, { type Metadata } from 'sharp'
import { AppError } from '../../common/errors'

/** Reads a single-channel 8-bit label map (Cityscapes labelIds / trainIds). */
export async function readLabelMap(
  file: string,
): Promise<{ data: Uint8Array; width: number; height: number }> {
  let meta: Metadata
  try {
    meta = await sharp(file).metadata()
  } catch (err) {
    throw new AppError(
      'IO_ERROR',
      `${file} cannot be read as an image (${(err as Error).message}).`,
    )
  }
  if (meta.channels !== 1 && meta.space !== 'b-w') {
    throw new AppError(
      'INVALID_INPUT',
      `${file} has ${meta.channels} channels; a label map is a single-channel (grayscale) PNG.`,
    )
  }
  try {
    const { data, info } = await sharp(file)
      .extractChannel(0)
      .raw()
      .toBuffer({ resolveWithObject: true })
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
      width: info.width,
      height: info.height,
    }
  } catch (err) {
    throw new AppError(
      'IO_ERROR',
      `${file} cannot be decoded (${(err as Error).message}); the file may be truncated.`,
    )
  }
}

/** Reads a 16-bit instance map (Cityscapes instanceIds: labelId*1000+k, or labelId). */
export async function readInstanceMap(
  file: string,
): Promise<{ data: Uint16Array; width: number; height: number }> {
  try {
    const { data, info } = await sharp(file)
      .toColourspace('grey16')
      .raw({ depth: 'ushort' })
      .toBuffer({ resolveWithObject: true })
    if (info.channels !== 1) {
      throw new AppError(
        'INVALID_INPUT',
        `${file} has ${info.channels} channels; instanceIds is a single-channel 16-bit PNG.`,
      )
    }
    const copy = new Uint16Array(data.length / 2)
    new Uint8Array(copy.buffer).set(data)
    return { data: copy, width: info.width, height: info.height }
  } catch (err) {
    if (err instanceof AppError) throw err
    throw new AppError(
      'IO_ERROR',
      `${file} cannot be decoded (${(err as Error).message}); the file may be truncated.`,
    )
  }
}
