import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { WebSocketServer, type WebSocket } from 'ws'
import { mediaKinds, type MediaKind } from '../../common/bridge'
import { AppError, toErrorShape } from '../../common/errors'
import { Studio } from '../../core/studio'
import { packageRoot } from '../../core/paths'
import { acquireInstanceLock } from '../../core/store/instanceLock'

export interface ServeOptions {
  dataDir: string
  port?: number
  /** Defaults to the built renderer in out/renderer. */
  rendererDir?: string
  /** A fixed token (tests); a random one otherwise. */
  token?: string
  importDemo?: boolean
  log?: (line: string) => void
}

export interface RunningServer {
  url: string
  port: number
  token: string
  studio: Studio
  close(): Promise<void>
}

const staticTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
}

const MAX_BODY = 1 << 20

/**
 * The browser host: the built renderer and the same API over HTTP + WebSocket, on 127.0.0.1
 * only. Every API, media and event request must carry the session token printed in the URL;
 * the Host header must name this server (DNS-rebinding guard).
 */
export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const log = opts.log ?? (() => {})
  // Nothing is created (data folder, lock, store) before the port is ours: a port in use is
  // one line and leaves no trace. Requests arriving before the studio is open wait for it.
  let studio!: Studio
  let markReady!: () => void
  const ready = new Promise<void>((resolve) => (markReady = resolve))
  const token = opts.token ?? crypto.randomBytes(24).toString('base64url')
  const tokenBuf = Buffer.from(token)
  const rendererDir = opts.rendererDir ?? path.join(packageRoot(), 'out', 'renderer')
  let port = 0

  const tokenOk = (given: string | null | undefined): boolean => {
    if (!given) return false
    const b = Buffer.from(given)
    return b.length === tokenBuf.length && crypto.timingSafeEqual(b, tokenBuf)
  }
  const hostOk = (req: http.IncomingMessage): boolean => {
    const h = req.headers.host ?? ''
    return h === `127.0.0.1:${port}` || h === `localhost:${port}`
  }

  const sendJson = (res: http.ServerResponse, status: number, body: unknown) => {
    const data = Buffer.from(JSON.stringify(body))
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': data.length,
      'cache-control': 'no-store',
    })
    res.end(data)
  }

  const server = http.createServer((req, res) => {
    void handle(req, res).catch((err) => {
      if (!res.headersSent) sendJson(res, 500, { ok: false, error: toErrorShape(err) })
      else res.destroy()
    })
  })

  // Five quiet seconds after a burst of requests, caches give their memory back.
  let idleTimer: NodeJS.Timeout | undefined
  const busy = () => {
    clearTimeout(idleTimer)
    idleTimer = setTimeout(() => studio.trimMemory(), 5000).unref()
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse) {
    await ready
    busy()
    if (!hostOk(req))
      return sendJson(res, 403, {
        ok: false,
        error: { code: 'UNAUTHORIZED', message: 'Wrong Host header.' },
      })
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`)
    let pathname: string
    try {
      pathname = decodeURIComponent(url.pathname)
    } catch {
      return sendJson(res, 400, {
        ok: false,
        error: { code: 'INVALID_INPUT', message: 'Malformed percent-encoding in the URL.' },
      })
    }
    if (url.pathname.startsWith('/api/')) {
      if (req.method !== 'POST')
        return sendJson(res, 405, {
          ok: false,
          error: { code: 'INVALID_INPUT', message: 'Use POST.' },
        })
      if (!tokenOk(req.headers['x-gcstudio-token'] as string | undefined)) {
        return sendJson(res, 401, {
          ok: false,
          error: {
            code: 'UNAUTHORIZED',
            message: 'Missing or wrong session token: open the URL that `gcstudio serve` printed.',
          },
        })
      }
      const body = await readBody(req)
      if (body === null)
        return sendJson(res, 413, {
          ok: false,
          error: {
            code: 'INVALID_INPUT',
            message: `Request body too large: the limit is ${MAX_BODY / (1 << 20)} MiB.`,
          },
        })
      let input: unknown
      try {
        input = body.length ? JSON.parse(body.toString('utf8')) : {}
      } catch {
        return sendJson(res, 400, {
          ok: false,
          error: { code: 'INVALID_INPUT', message: 'The request body is not JSON.' },
        })
      }
      const method = pathname.slice('/api/'.length)
      const result = await studio.dispatch(method, input)
      return sendJson(res, 200, result)
    }
    if (url.pathname.startsWith('/media/')) {
      if (!tokenOk(url.searchParams.get('t'))) {
        return sendJson(res, 401, {
          ok: false,
          error: { code: 'UNAUTHORIZED', message: 'Missing or wrong session token.' },
        })
      }
      const [, , kind, idText, ...rest] = url.pathname.split('/')
      // Ids are plain decimals: Number() would also read 0x10, 1e3 and 1.0.
      const id = /^[1-9][0-9]{0,14}$/.test(idText ?? '') ? Number(idText) : NaN
      if (!mediaKinds.includes(kind as MediaKind) || !Number.isInteger(id) || rest.length > 0) {
        return sendJson(res, 400, {
          ok: false,
          error: { code: 'INVALID_INPUT', message: `Bad media path ${url.pathname}.` },
        })
      }
      // A thumbnail whose page scrolled away: the browser closes the request, and the work
      // still waiting for its turn is dropped.
      const gone = new AbortController()
      res.on('close', () => {
        if (!res.writableFinished) gone.abort()
      })
      try {
        const media = await studio.media.get(kind as MediaKind, id, gone.signal)
        res.writeHead(200, {
          'content-type': media.contentType,
          'content-length': media.body.length,
          'cache-control': 'private, max-age=3600',
        })
        return res.end(media.body)
      } catch (err) {
        const shape = toErrorShape(err)
        if (gone.signal.aborted) return res.destroy()
        const busy = (shape.details as { retryable?: boolean } | undefined)?.retryable === true
        return sendJson(res, shape.code === 'NOT_FOUND' ? 404 : busy ? 503 : 422, {
          ok: false,
          error: shape,
        })
      }
    }
    return serveStatic(pathname, res)
  }

  function serveStatic(pathname: string, res: http.ServerResponse) {
    const rel = pathname === '/' ? 'index.html' : pathname.replace(/^\/+/, '')
    const file = path.resolve(rendererDir, rel)
    if (
      !file.startsWith(rendererDir + path.sep) ||
      !fs.existsSync(file) ||
      !fs.statSync(file).isFile()
    ) {
      res.writeHead(404, { 'content-type': 'text/plain' })
      return res.end('Not found')
    }
    const headers: Record<string, string> = {
      'content-type': staticTypes[path.extname(file)] ?? 'application/octet-stream',
    }
    if (file.endsWith('.html')) {
      headers['content-security-policy'] =
        `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; ` +
        `connect-src 'self' ws://127.0.0.1:${port} ws://localhost:${port}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'`
      headers['cache-control'] = 'no-store'
    }
    res.writeHead(200, headers)
    fs.createReadStream(file).pipe(res)
  }

  const wss = new WebSocketServer({ noServer: true })
  const sockets = new Set<WebSocket>()
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`)
    // Browsers always send Origin on a WebSocket and never let a page forge it: a page of
    // another site must not read the event stream even if it learnt the token.
    const origin = req.headers.origin
    const originOk =
      origin === undefined ||
      origin === `http://127.0.0.1:${port}` ||
      origin === `http://localhost:${port}`
    if (
      !hostOk(req) ||
      !originOk ||
      url.pathname !== '/events' ||
      !tokenOk(url.searchParams.get('t'))
    ) {
      socket.write('HTTP/1.1 401 Unauthorized\r\n\r\n')
      return socket.destroy()
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws)
      ws.on('close', () => sockets.delete(ws))
    })
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve())
  }).catch((err: NodeJS.ErrnoException) => {
    throw err.code === 'EADDRINUSE'
      ? new AppError(
          'CONFLICT',
          `Port ${opts.port} is already in use on 127.0.0.1; choose another with --port, or omit it for a free one.`,
        )
      : err.code === 'EACCES'
        ? new AppError(
            'UNSUPPORTED',
            `Port ${opts.port} needs privileges on this system; choose one above 1023 with --port.`,
          )
        : err
  })
  port = (server.address() as { port: number }).port
  let lock: ReturnType<typeof acquireInstanceLock>
  try {
    lock = acquireInstanceLock(opts.dataDir, { host: 'browser' })
    try {
      studio = Studio.open({ dataDir: opts.dataDir, host: 'browser', log })
    } catch (err) {
      lock.release()
      throw err
    }
  } catch (err) {
    server.close()
    throw err
  }
  markReady()
  const unsubscribe = studio.bus.subscribe((event) => {
    const data = JSON.stringify(event)
    for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(data)
  })

  const url = `http://127.0.0.1:${port}/?token=${token}`
  lock.update({ url: `http://127.0.0.1:${port}/` })

  if (opts.importDemo !== false) {
    // Small bundled datasets: ready within a second or two, before anyone opens the URL.
    await studio.ensureDemoDatasets()
    studio.ensureDemoModels()
  }

  let closed = false
  return {
    url,
    port,
    token,
    studio,
    async close() {
      if (closed) return
      closed = true
      clearTimeout(idleTimer)
      unsubscribe()
      for (const ws of sockets) ws.terminate()
      wss.close()
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      await studio.close()
      lock.release()
    },
  }
}

/** Past this much the connection is cut: nobody sends 64 MiB to this API in good faith. */
const MAX_DRAIN = 64 << 20

/**
 * The body, or null when it exceeds MAX_BODY. An oversized body is read to its end and thrown
 * away, so the client gets the 413 answer instead of a reset connection.
 */
function readBody(req: http.IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size <= MAX_BODY) chunks.push(c)
      else if (size > MAX_DRAIN) req.destroy()
    })
    req.on('end', () => resolve(size > MAX_BODY ? null : Buffer.concat(chunks)))
    req.on('error', reject)
  })
}
