// The statistics job on a hand-made store: the numbers of hand-made maps, and the labels a
// reader must see (blocks without a stage, maps stored before half-float weights, images
// without objects).
import { describe, expect, it } from 'vitest'
import { computeAttentionStats } from '../../../src-main/core/attentionJob'
import { toFloat16 } from '../../../src-main/core/inference/float16'
import { openStore } from '../../../src-main/core/store/store'
import { tempDir } from '../../helpers/fixtures'

describe('attention statistics job', () => {
  it('computes hand-made maps exactly and labels what it could not do', async () => {
    const db = openStore(tempDir())
    const block = {
      index: 0,
      stage: null,
      indexInStage: 0,
      channels: 2,
      hidden: 1,
      ratio: 2,
      fusion: ['channel_add'],
      layerNorm: 'none',
      attentionSize: null,
    }
    db.exec(`
      INSERT INTO datasets (id, name, kind, images_root, source, status) VALUES (1, 'd', 'coco', '/i', '/s', 'ready');
      INSERT INTO categories (dataset_id, id, name, color) VALUES (1, 5, 'thing', '[1,2,3]');
      INSERT INTO images (id, dataset_id, source_id, file_name, width, height) VALUES (1, 1, 1, 'a.jpg', 64, 32), (2, 1, 2, 'b.jpg', 64, 32);
      -- The object covers map cells (1,1) and (1,2) of the 4 x 8 map exactly.
      INSERT INTO annotations (dataset_id, image_id, source_id, category_id, area, bbox_x, bbox_y, bbox_w, bbox_h, segm_kind)
        VALUES (1, 1, 1, 5, 128, 8, 8, 16, 8, 'none');
    `)
    db.prepare(
      `INSERT INTO models (id, sha256, name, task, format, path, source, file_size, file_mtime, config, card)
       VALUES (1, 'x', 'hand-made', 'detection', 'onnx', '/m', '/m', 1, 1, '{}', ?)`,
    ).run(JSON.stringify({ gcBlocks: [block] }))
    db.exec(
      `INSERT INTO runs (id, model_id, dataset_id, settings, status, images_total) VALUES (1, 1, 1, '{"taps":true}', 'done', 2)`,
    )
    const geometry = JSON.stringify({
      width: 64,
      height: 32,
      resizedWidth: 64,
      resizedHeight: 32,
      inputWidth: 64,
      inputHeight: 32,
      scaleX: 1,
      scaleY: 1,
    })
    const insertMap = db.prepare(
      `INSERT INTO attention_maps (run_id, image_id, block_index, height, width, min_value, max_value, data, transform_f16, weights_f16)
       VALUES (1, ?, 0, 4, 8, ?, ?, ?, ?, ?)`,
    )
    // Image 1: half the mass on each object cell, as half floats of p * N.
    const p = new Float64Array(32)
    p[9] = 0.5
    p[10] = 0.5
    insertMap.run(
      1,
      0,
      0.5,
      Buffer.from(Uint8Array.from(p, (v) => Math.round(v * 510))),
      Buffer.from(Uint16Array.from([1, 0].map(toFloat16)).buffer),
      Buffer.from(Uint16Array.from(p, (v) => toFloat16(v * 32)).buffer),
    )
    // Image 2: a uniform map stored as 8-bit codes only (min = max), no objects.
    insertMap.run(
      2,
      1 / 32,
      1 / 32,
      Buffer.alloc(32),
      Buffer.from(Uint16Array.from([0, 0].map(toFloat16)).buffer),
      null,
    )
    db.exec(
      `INSERT INTO run_images (run_id, image_id, status, meta) VALUES (1, 1, 'done', '${geometry}'), (1, 2, 'done', '${geometry}')`,
    )
    db.exec(`UPDATE runs SET images_done = 2 WHERE id = 1`)
    const s = await computeAttentionStats(
      db,
      1,
      { contextDistance: 8 },
      { signal: new AbortController().signal, progress: () => {} },
    )
    expect(Object.keys(s.stages)).toEqual(['unstaged'])
    expect(s.notes).toEqual([
      '1 map was stored before half-float weights were kept: their statistics come from the 8-bit codes (entropy within about 0.01 on peaked maps).',
      'The dataset has no instance masks: object regions are the annotated boxes.',
      '1 image has no objects: in-object ratio and context reach are over the other 1.',
      'GC block 0 has no known stage (the input stride could not be read from the graph): listed per block and pooled under "unstaged".',
    ])
    const b = s.blocks[0]!
    expect(b.images).toBe(2)
    expect(b.entropy.min).toBeCloseTo(Math.log(2) / Math.log(32), 12)
    expect(b.entropy.max).toBeCloseTo(1, 12)
    // Only image 1 has objects: all of its mass on 2 of 32 cells.
    expect(b.inObjectRatio!.n).toBe(1)
    expect(b.inObjectRatio!.mean).toBeCloseTo(16, 10)
    expect(b.contextMass!.mean).toBe(0)
    expect(b.classes).toEqual([
      { id: 5, name: 'thing', images: 1, mass: 1, area: 2 / 32, ratio: 16 },
    ])
    // The transform of the image with objects counts for its dominant class.
    expect(b.transform!.mean).toEqual([0.5, 0])
    expect(b.transform!.classMeans).toEqual([{ id: 5, name: 'thing', images: 1, mean: [1, 0] }])
    expect(b.transform!.selectivity).toBeNull()
    db.close()
  })
})
