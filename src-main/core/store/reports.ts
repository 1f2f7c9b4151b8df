/**
 * The reports table: the last reports the studio wrote, with their files, so the Reports list
 * can show them again and the browser host can serve a report by id (never by path).
 */
import type { Report } from '../../common/api/reports'
import { perDb } from './sql'
import type { Db } from './store'

interface RawRow {
  id: number
  kind: Report['kind']
  title: string
  target: string
  format: Report['format']
  path: string
  bytes: number
  printer: string | null
  created_at: string
}

const toReport = (r: RawRow): Report => ({
  id: r.id,
  kind: r.kind,
  title: r.title,
  target: JSON.parse(r.target) as Report['target'],
  format: r.format,
  path: r.path,
  bytes: r.bytes,
  printer: r.printer,
  createdAt: r.created_at,
})

export class ReportStore {
  #insert
  #get
  #list
  #remove

  constructor(db: Db) {
    this.#insert = db.prepare(
      `INSERT INTO reports (kind, title, target, format, path, bytes, printer) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *`,
    )
    this.#get = db.prepare('SELECT * FROM reports WHERE id = ?')
    this.#list = db.prepare('SELECT * FROM reports ORDER BY id DESC LIMIT ?')
    this.#remove = db.prepare('DELETE FROM reports WHERE id = ?')
  }

  add(r: Omit<Report, 'id' | 'createdAt'>): Report {
    return toReport(
      this.#insert.get(
        r.kind,
        r.title,
        JSON.stringify(r.target),
        r.format,
        r.path,
        r.bytes,
        r.printer,
      ) as RawRow,
    )
  }

  get(id: number): Report | null {
    const row = this.#get.get(id) as RawRow | undefined
    return row ? toReport(row) : null
  }

  list(limit = 50): Report[] {
    return (this.#list.all(limit) as RawRow[]).map(toReport)
  }

  remove(id: number): boolean {
    return this.#remove.run(id).changes > 0
  }
}

export const reportStore = perDb((db: Db) => new ReportStore(db))
