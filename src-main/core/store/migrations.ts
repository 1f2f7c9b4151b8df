import type Database from 'better-sqlite3'

/**
 * Numbered, append-only schema migrations. Never edit a shipped migration: add the next one.
 * `PRAGMA user_version` holds the number of the last migration applied.
 */
export interface Migration {
  version: number
  name: string
  sql: string
  /**
   * Schema changes SQLite cannot make with ALTER TABLE (a new CHECK, AUTOINCREMENT) rebuild the
   * table; they run after `sql`, with foreign keys off so dropping the old table cascades
   * nothing, and a foreign-key check before commit.
   */
  rebuild?: (db: Database.Database) => void
}

/**
 * SQLite's documented way to change a table's definition: create the new one from the current
 * definition (read from sqlite_master, so columns other migrations added are carried whatever
 * the order), copy every row, drop the old table, rename, and recreate its indexes. Rows keep
 * their ids; tables referencing it by name keep working.
 */
export function rebuildTable(
  db: Database.Database,
  table: string,
  edit: (createSql: string) => string,
): void {
  const def = db
    .prepare(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`)
    .get(table) as { sql: string } | undefined
  if (!def) throw new Error(`No table ${table} to rebuild.`)
  const edited = edit(def.sql)
  if (edited === def.sql) throw new Error(`Rebuilding ${table} changed nothing.`)
  const indexes = db
    .prepare(
      `SELECT sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND tbl_name = ? AND sql IS NOT NULL`,
    )
    .all(table) as { sql: string }[]
  const tmp = `${table}_rebuilt`
  db.exec(edited.replace(new RegExp(`^CREATE TABLE\\s+"?${table}"?`), `CREATE TABLE ${tmp}`))
  db.exec(`INSERT INTO ${tmp} SELECT * FROM ${table}`)
  db.exec(`DROP TABLE ${table}`)
  db.exec(`ALTER TABLE ${tmp} RENAME TO ${table}`)
  for (const ix of indexes) db.exec(ix.sql)
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'datasets and ground truth',
    sql: `
      CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );

      CREATE TABLE datasets (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('coco', 'cityscapes')),
        split TEXT,
        -- Where the images are and what was imported; images are referenced, never copied.
        images_root TEXT NOT NULL,
        source TEXT NOT NULL,
        -- 'importing' rows are invisible to the app and swept at start-up: an import is
        -- all or nothing even though it commits in batches (see core/datasets/importer.ts).
        status TEXT NOT NULL DEFAULT 'importing' CHECK (status IN ('importing', 'ready')),
        import_pid INTEGER,
        image_count INTEGER NOT NULL DEFAULT 0,
        annotation_count INTEGER NOT NULL DEFAULT 0,
        missing_image_count INTEGER NOT NULL DEFAULT 0,
        -- Bumped by every label edit, so evaluations can say which ground truth they used.
        gt_version INTEGER NOT NULL DEFAULT 1,
        is_demo INTEGER NOT NULL DEFAULT 0,
        meta TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );

      CREATE TABLE categories (
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        id INTEGER NOT NULL,
        name TEXT NOT NULL,
        supercategory TEXT,
        train_id INTEGER,
        color TEXT NOT NULL,
        PRIMARY KEY (dataset_id, id)
      ) WITHOUT ROWID;

      CREATE TABLE images (
        id INTEGER PRIMARY KEY,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        source_id INTEGER NOT NULL,
        file_name TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        annotation_count INTEGER NOT NULL DEFAULT 0,
        missing INTEGER NOT NULL DEFAULT 0,
        -- Filled lazily the first time the file is decoded (EXIF orientation, colour space).
        orientation INTEGER,
        probe TEXT,
        -- Cityscapes ground-truth maps, relative to the dataset's source root.
        semantic_path TEXT,
        instance_path TEXT,
        UNIQUE (dataset_id, source_id)
      );
      -- The grid pages through a dataset in id order: a narrow index makes OFFSET and count cheap.
      CREATE INDEX images_dataset_id ON images (dataset_id, id);
      CREATE INDEX images_dataset_file ON images (dataset_id, file_name);
      CREATE INDEX images_dataset_missing ON images (dataset_id, missing) WHERE missing = 1;

      CREATE TABLE annotations (
        id INTEGER PRIMARY KEY,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        source_id INTEGER NOT NULL,
        category_id INTEGER NOT NULL,
        iscrowd INTEGER NOT NULL DEFAULT 0,
        area REAL NOT NULL,
        bbox_x REAL NOT NULL,
        bbox_y REAL NOT NULL,
        bbox_w REAL NOT NULL,
        bbox_h REAL NOT NULL,
        -- 'polygon': JSON list of polygons; 'rle': JSON {size,counts} with counts a list or a
        -- compressed string exactly as the file gave it; 'none': no mask.
        segm_kind TEXT NOT NULL CHECK (segm_kind IN ('none', 'polygon', 'rle')),
        segmentation TEXT,
        deleted INTEGER NOT NULL DEFAULT 0,
        -- category_id is checked against categories by the importer and the editor rather than
        -- by a foreign key: COCO files list categories after the annotations that use them.
        UNIQUE (dataset_id, source_id)
      );
      CREATE INDEX annotations_image ON annotations (image_id);

      -- Which classes each image holds, for the grid's class filter and the viewer's legend:
      -- annotation counts (COCO, Cityscapes instances) and pixel counts (Cityscapes labelIds).
      CREATE TABLE image_categories (
        image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        dataset_id INTEGER NOT NULL,
        category_id INTEGER NOT NULL,
        annotation_count INTEGER NOT NULL DEFAULT 0,
        pixel_count INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (image_id, category_id)
      ) WITHOUT ROWID;
      CREATE INDEX image_categories_filter ON image_categories (dataset_id, category_id, image_id);
      CREATE INDEX annotations_dataset_category ON annotations (dataset_id, category_id, image_id);

      -- Label edits with history: every change keeps the row before and after, so nothing a
      -- user did is ever lost and any edit can be undone.
      CREATE TABLE annotation_edits (
        id INTEGER PRIMARY KEY,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        annotation_id INTEGER NOT NULL,
        action TEXT NOT NULL CHECK (action IN ('create', 'update', 'delete', 'restore')),
        before TEXT,
        after TEXT,
        gt_version INTEGER NOT NULL,
        note TEXT,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );
      CREATE INDEX annotation_edits_dataset ON annotation_edits (dataset_id, id);
      CREATE INDEX annotation_edits_annotation ON annotation_edits (annotation_id);
    `,
  },
  {
    version: 2,
    name: 'models, runs, predictions, attention maps',
    sql: `
      CREATE TABLE models (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        task TEXT NOT NULL CHECK (task IN ('detection', 'instance_segmentation', 'semantic_segmentation')),
        format TEXT NOT NULL,
        -- The ONNX file, referenced in place; size and mtime let a run notice a changed file
        -- without hashing it again.
        path TEXT NOT NULL,
        source TEXT NOT NULL,
        file_size INTEGER NOT NULL,
        file_mtime REAL NOT NULL,
        -- Resolved preprocessing, output adapter, classes and label mapping.
        config TEXT NOT NULL,
        -- The model card read from the graph: io, opset, params, FLOPs, GC blocks.
        card TEXT NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );

      CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        settings TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'paused', 'cancelled', 'failed', 'done')),
        -- The process running it; a run whose process is gone was interrupted and can resume.
        owner_pid INTEGER,
        execution_provider TEXT,
        -- Counts and warnings in words (unmapped labels, exporter quirks).
        notes TEXT,
        error TEXT,
        images_total INTEGER NOT NULL DEFAULT 0,
        images_done INTEGER NOT NULL DEFAULT 0,
        images_failed INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        started_at TEXT,
        finished_at TEXT
      );
      CREATE INDEX runs_dataset ON runs (dataset_id, id);
      CREATE INDEX runs_model ON runs (model_id, id);

      -- One row per image a run has finished (or failed): resume skips these.
      CREATE TABLE run_images (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        status TEXT NOT NULL CHECK (status IN ('done', 'error')),
        error TEXT,
        preprocess_ms REAL,
        inference_ms REAL,
        postprocess_ms REAL,
        -- Resize/pad geometry, to place attention maps and outputs over the image.
        meta TEXT,
        PRIMARY KEY (run_id, image_id)
      ) WITHOUT ROWID;

      CREATE TABLE predictions (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        category_id INTEGER NOT NULL,
        score REAL NOT NULL,
        bbox_x REAL NOT NULL,
        bbox_y REAL NOT NULL,
        bbox_w REAL NOT NULL,
        bbox_h REAL NOT NULL,
        -- COCO compressed RLE string of the full-image binary mask, when the model has masks.
        mask_rle TEXT,
        area REAL
      );
      CREATE INDEX predictions_run_image ON predictions (run_id, image_id);
      CREATE INDEX predictions_run_category ON predictions (run_id, category_id, score);

      -- Semantic segmentation output: a PNG of train ids at image resolution.
      CREATE TABLE semantic_outputs (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        png BLOB NOT NULL,
        PRIMARY KEY (run_id, image_id)
      ) WITHOUT ROWID;

      -- GC block taps: the softmax attention (H x W, uint8 scaled between min and max) and the
      -- transform output (the channel_add term, C float16 values) of every block for every image.
      CREATE TABLE attention_maps (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        block_index INTEGER NOT NULL,
        height INTEGER NOT NULL,
        width INTEGER NOT NULL,
        min_value REAL NOT NULL,
        max_value REAL NOT NULL,
        data BLOB NOT NULL,
        transform_f16 BLOB,
        PRIMARY KEY (run_id, image_id, block_index)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    name: 'evaluations',
    sql: `
      CREATE TABLE evaluations (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        gt_version INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('coco-bbox', 'coco-segm', 'cityscapes')),
        status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
        -- The headline number (AP or mIoU) for sorting and comparing runs.
        primary_metric REAL,
        image_count INTEGER,
        -- The \`gcstudio eval --json\` document (12 COCO stats, per-category, PR arrays, confusion
        -- matrix; or mIoU, iIoU, per-class, categories) and per-category/per-class rows.
        metrics TEXT,
        categories TEXT,
        warnings TEXT,
        error TEXT,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        finished_at TEXT,
        UNIQUE (run_id, gt_version, kind)
      );

      CREATE TABLE evaluation_images (
        evaluation_id INTEGER NOT NULL REFERENCES evaluations(id) ON DELETE CASCADE,
        image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        ap REAL,
        ap50 REAL,
        tp INTEGER,
        fp INTEGER,
        fn INTEGER,
        miou REAL,
        details TEXT,
        PRIMARY KEY (evaluation_id, image_id)
      ) WITHOUT ROWID;
      CREATE INDEX evaluation_images_ap ON evaluation_images (evaluation_id, ap);
      CREATE INDEX evaluation_images_miou ON evaluation_images (evaluation_id, miou);
    `,
  },
  {
    version: 4,
    name: 'jobs',
    sql: `
      -- Every long task (import, run, evaluation, analytics, report, maintenance) as one row, so
      -- a restart shows what happened. Progress counters are written at phase changes and at the
      -- end, not per tick; rows a crash left 'running' are closed as failed at the next start.
      CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        title TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'cancelled', 'failed')),
        phase TEXT NOT NULL DEFAULT '',
        done REAL NOT NULL DEFAULT 0,
        total REAL,
        unit TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT '',
        error TEXT,
        warnings TEXT NOT NULL DEFAULT '[]',
        dataset_id INTEGER,
        run_id INTEGER,
        owner_pid INTEGER,
        started_at TEXT NOT NULL,
        finished_at TEXT
      );
      CREATE INDEX jobs_started ON jobs (started_at);
    `,
  },
  {
    version: 5,
    name: 'label editing: operations, ground-truth versions, edited label maps, review queue',
    sql: `
      -- One user action on one image (an edit of one or more annotations, a paint stroke, an
      -- undo, a redo, a revert), written in one transaction with its annotation_edits rows.
      -- \`stack\` places edit and revert operations on the image's undo stack ('undo'), its redo
      -- stack ('redo') or neither ('none': undone and then superseded by a new edit).
      CREATE TABLE label_operations (
        id INTEGER PRIMARY KEY,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('edit', 'undo', 'redo', 'revert')),
        source TEXT NOT NULL CHECK (source IN ('hand', 'prediction')),
        target_id INTEGER,
        stack TEXT NOT NULL CHECK (stack IN ('undo', 'redo', 'none')),
        gt_version INTEGER NOT NULL,
        summary TEXT NOT NULL,
        warnings TEXT,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );
      -- The undo/redo stacks (image, stack) and the history page (image, newest first).
      CREATE INDEX label_operations_stack ON label_operations (image_id, stack, id);
      CREATE INDEX label_operations_image ON label_operations (image_id, id);
      CREATE INDEX label_operations_dataset ON label_operations (dataset_id, id);

      ALTER TABLE annotation_edits ADD COLUMN operation_id INTEGER REFERENCES label_operations(id) ON DELETE CASCADE;
      ALTER TABLE annotation_edits ADD COLUMN image_id INTEGER;
      ALTER TABLE annotation_edits ADD COLUMN source TEXT;
      CREATE INDEX annotation_edits_operation ON annotation_edits (operation_id);
      -- Revisions of an image's annotations (its last edit each) without scanning all edits.
      CREATE INDEX annotation_edits_image ON annotation_edits (image_id, annotation_id, id);
      CREATE INDEX annotation_edits_version ON annotation_edits (dataset_id, gt_version);

      -- Ground-truth versions after the imported one (version 1). A version stays open to
      -- further edits until something uses it: an evaluation at that version, or an export.
      CREATE TABLE gt_versions (
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        frozen_at TEXT,
        frozen_by TEXT,
        PRIMARY KEY (dataset_id, version)
      ) WITHOUT ROWID;

      -- Edited Cityscapes label maps: every paint stroke stores the image's new labelIds and
      -- instanceIds PNGs; the files on disk are never written.
      CREATE TABLE label_maps (
        id INTEGER PRIMARY KEY,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        label_png BLOB NOT NULL,
        instance_png BLOB NOT NULL,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );
      -- Which map an operation replaced with which (NULL: the original files).
      CREATE TABLE label_map_edits (
        id INTEGER PRIMARY KEY,
        operation_id INTEGER NOT NULL REFERENCES label_operations(id) ON DELETE CASCADE,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        before_map INTEGER REFERENCES label_maps(id),
        after_map INTEGER REFERENCES label_maps(id),
        before_pixels TEXT NOT NULL,
        after_pixels TEXT NOT NULL,
        gt_version INTEGER NOT NULL
      );
      CREATE INDEX label_map_edits_image ON label_map_edits (image_id, id);
      CREATE INDEX label_map_edits_version ON label_map_edits (dataset_id, gt_version);

      -- Likely label errors drawn from an evaluation, and what the reviewer decided.
      CREATE TABLE review_items (
        id INTEGER PRIMARY KEY,
        evaluation_id INTEGER NOT NULL REFERENCES evaluations(id) ON DELETE CASCADE,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('missing_label', 'wrong_label', 'class_confusion')),
        priority REAL NOT NULL,
        prediction_id INTEGER,
        annotation_id INTEGER,
        category_id INTEGER NOT NULL,
        predicted_category_id INTEGER,
        score REAL,
        iou REAL,
        status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'accepted', 'fixed', 'dismissed')),
        reviewed_at TEXT
      );
      CREATE INDEX review_items_queue ON review_items (evaluation_id, status, priority DESC, id);
      CREATE UNIQUE INDEX review_items_unique ON review_items (evaluation_id, kind, ifnull(prediction_id, 0), ifnull(annotation_id, 0));
    `,
  },
  {
    version: 6,
    name: 'attention statistics',
    sql: `
      -- Dataset-wide statistics of a run's GC blocks (core/attention), computed once per run,
      -- parameters, ground-truth version and number of finished images: a partial run that
      -- later finishes gets a new row, a repeated request finds the stored one.
      CREATE TABLE attention_stats (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        gt_version INTEGER NOT NULL,
        -- Canonical JSON of the parameters (context distance).
        params TEXT NOT NULL,
        images INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
        -- The AttentionStats document (blocks, stages, notes), JSON.
        summary TEXT,
        error TEXT,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        finished_at TEXT,
        UNIQUE (run_id, gt_version, params, images)
      );

      -- Per image and block, for sorting images (lowest entropy, most context) and the grid.
      CREATE TABLE attention_image_stats (
        stats_id INTEGER NOT NULL REFERENCES attention_stats(id) ON DELETE CASCADE,
        image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        block_index INTEGER NOT NULL,
        entropy REAL NOT NULL,
        top1_mass REAL NOT NULL,
        in_object_ratio REAL,
        context_mass REAL,
        padding_mass REAL NOT NULL,
        centroid_x REAL NOT NULL,
        centroid_y REAL NOT NULL,
        dominant_class INTEGER,
        PRIMARY KEY (stats_id, block_index, image_id)
      ) WITHOUT ROWID;

      -- The softmax weights in half precision beside the uint8 codes the viewer draws: linear
      -- uint8 codes round every weight below (max - min) / 510 to min, which moves the entropy
      -- of a peaked map by up to 0.01; half floats keep it within 1e-4. Null for maps stored
      -- before this column existed (statistics then use the codes and say so).
      ALTER TABLE attention_maps ADD COLUMN weights_f16 BLOB;
    `,
  },
  {
    version: 7,
    name: 'comparisons',
    sql: `
      -- Comparisons of 2-4 runs of one dataset. run_ids (JSON, the first the reference) are not
      -- foreign keys: a saved comparison outlives a deleted run and says so when opened.
      -- A row is 'running' only while its owner process computes it; nothing is stored as done
      -- before the summary and per-image details are written with it in one transaction.
      CREATE TABLE comparisons (
        id INTEGER PRIMARY KEY,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        gt_version INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('coco', 'cityscapes')),
        iou_type TEXT CHECK (iou_type IN ('bbox', 'segm')),
        run_ids TEXT NOT NULL,
        title TEXT NOT NULL,
        score_thr REAL NOT NULL,
        seed INTEGER NOT NULL,
        resamples INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'done')),
        owner_pid INTEGER,
        -- The computed CompareSummary and the per-image data of the difference list (JSON).
        summary TEXT,
        details TEXT,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        finished_at TEXT
      );
      CREATE INDEX comparisons_dataset ON comparisons (dataset_id, id);
    `,
  },
  {
    version: 8,
    name: 'reports',
    sql: `
      -- The reports the studio wrote (HTML or PDF): what they show (target, JSON), where the file
      -- is, and which Chromium printed a PDF. The file may be moved or deleted later; the list
      -- says so rather than the row disappearing.
      CREATE TABLE reports (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('run', 'comparison', 'attention')),
        title TEXT NOT NULL,
        target TEXT NOT NULL,
        format TEXT NOT NULL CHECK (format IN ('html', 'pdf')),
        path TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        printer TEXT,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      );
      CREATE INDEX reports_created ON reports (created_at);
    `,
  },
  {
    version: 9,
    name: 'hardening: ids never reused, datasets hidden while deleted, per-class counts stored',
    sql: `
      -- Per-class counts kept with the class (filled at import, refreshed by edits), so opening
      -- a dataset never aggregates image_categories on the server's event loop.
      ALTER TABLE categories ADD COLUMN image_count INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE categories ADD COLUMN annotation_count INTEGER NOT NULL DEFAULT 0;
      UPDATE categories SET
        image_count = (SELECT count(*) FROM image_categories ic
          WHERE ic.dataset_id = categories.dataset_id AND ic.category_id = categories.id),
        annotation_count = (SELECT coalesce(sum(ic.annotation_count), 0) FROM image_categories ic
          WHERE ic.dataset_id = categories.dataset_id AND ic.category_id = categories.id);
    `,
    rebuild(db) {
      // A report or a link naming run 7 (or dataset 3) must never later open another one:
      // AUTOINCREMENT ids are not reused after deletion. A dataset being deleted in the
      // background is 'deleting': hidden at once, like an unfinished import.
      rebuildTable(db, 'runs', (sql) =>
        sql.replace(
          /\bid INTEGER PRIMARY KEY\b(?! AUTOINCREMENT)/,
          'id INTEGER PRIMARY KEY AUTOINCREMENT',
        ),
      )
      rebuildTable(db, 'datasets', (sql) =>
        sql
          .replace(
            /\bid INTEGER PRIMARY KEY\b(?! AUTOINCREMENT)/,
            'id INTEGER PRIMARY KEY AUTOINCREMENT',
          )
          .replace(
            "CHECK (status IN ('importing', 'ready'))",
            "CHECK (status IN ('importing', 'ready', 'deleting'))",
          ),
      )
      // Label edits move the stored per-class counts with the rows they change. Imports and
      // removals (datasets not 'ready') write them in bulk instead (refreshCategoryCounts).
      // Created after the rebuild: a trigger naming a table being rebuilt would break it.
      db.exec(`
        CREATE TRIGGER image_categories_counts_insert AFTER INSERT ON image_categories
        WHEN (SELECT status FROM datasets WHERE id = NEW.dataset_id) = 'ready'
        BEGIN
          UPDATE categories SET image_count = image_count + 1,
            annotation_count = annotation_count + NEW.annotation_count
          WHERE dataset_id = NEW.dataset_id AND id = NEW.category_id;
        END;
        CREATE TRIGGER image_categories_counts_delete AFTER DELETE ON image_categories
        WHEN (SELECT status FROM datasets WHERE id = OLD.dataset_id) = 'ready'
        BEGIN
          UPDATE categories SET image_count = image_count - 1,
            annotation_count = annotation_count - OLD.annotation_count
          WHERE dataset_id = OLD.dataset_id AND id = OLD.category_id;
        END;
        CREATE TRIGGER image_categories_counts_update
        AFTER UPDATE OF annotation_count, category_id, dataset_id ON image_categories
        WHEN (SELECT status FROM datasets WHERE id = NEW.dataset_id) = 'ready'
        BEGIN
          UPDATE categories SET image_count = image_count - 1,
            annotation_count = annotation_count - OLD.annotation_count
          WHERE dataset_id = OLD.dataset_id AND id = OLD.category_id;
          UPDATE categories SET image_count = image_count + 1,
            annotation_count = annotation_count + NEW.annotation_count
          WHERE dataset_id = NEW.dataset_id AND id = NEW.category_id;
        END;
      `)
    },
  },
  {
    version: 10,
    name: 'live annotations view',
    sql: `
      -- The one place that says which ground truth exists: every reader goes through this view
      -- (core/store/sql.ts), so a soft-deleted annotation is never seen.
      CREATE VIEW live_annotations AS SELECT * FROM annotations WHERE deleted = 0;
    `,
  },
  {
    version: 11,
    name: 'live datasets view',
    sql: `
      -- The one place that says which datasets exist: an import still writing ('importing')
      -- or a removal under way ('deleting') is hidden from every reader (core/store/sql.ts).
      CREATE VIEW live_datasets AS SELECT * FROM datasets WHERE status = 'ready';
    `,
  },
]

export const latestSchemaVersion = migrations[migrations.length - 1]!.version
