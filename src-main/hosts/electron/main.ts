/**
 * The Electron host: one window, the preload bridge, the media protocol and native pickers.
 * Everything else is the same Studio core the browser host serves. Kept thin on purpose: the
 * Electron binary cannot be downloaded in offline builds, so every feature is tested through
 * the browser host.
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { app, BrowserWindow, dialog, ipcMain, protocol, shell, utilityProcess } from 'electron'
import { contract, type PickFilter } from '../../common/api'
import { ipcChannels, mediaKinds, mediaProtocol, type MediaKind } from '../../common/bridge'
import { AppError, toErrorShape } from '../../common/errors'
import { Studio } from '../../core/studio'
import { packageRoot, resolveDataDir, productName, isInside } from '../../core/paths'
import { acquireInstanceLock } from '../../core/store/instanceLock'
import type { ProcessLauncher } from '../../core/inference/engine'
import type { FromWorker } from '../../core/inference/protocol'

/** Inference runs in an Electron utility process (Chromium's process model, crash-isolated). */
const utilityLauncher: ProcessLauncher = (script) => {
  const child = utilityProcess.fork(script, [], {
    serviceName: 'GC Studio inference',
    stdio: 'inherit',
  })
  return {
    send: (m) => child.postMessage(m),
    onMessage: (cb) => child.on('message', (m: FromWorker) => cb(m)),
    onExit: (cb) => child.on('exit', (code) => cb(code, null)),
    kill: () => void child.kill(),
  }
}

const here = path.dirname(fileURLToPath(import.meta.url))

protocol.registerSchemesAsPrivileged([
  {
    scheme: mediaProtocol,
    privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true },
  },
])
app.setName(productName)

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name)
  if (i >= 0) return process.argv[i + 1]
  const eq = process.argv.find((a) => a.startsWith(`${name}=`))
  return eq?.slice(name.length + 1)
}

/** better-sqlite3 built against Electron's ABI by `npm start` (bin/start.js), beside the Node build. */
function electronNativeBinding(): string | undefined {
  const file = path.join(
    packageRoot(),
    '.electron-native',
    'better-sqlite3',
    'build',
    'Release',
    'better_sqlite3.node',
  )
  return fs.existsSync(file) ? file : undefined
}

let mainWindow: BrowserWindow | null = null

/** The methods that read a path the user names, and the fields that hold it: the contract's. */
const pathFieldsOf: Record<string, readonly string[]> = Object.fromEntries(
  Object.entries(contract)
    .filter(([, m]) => m.paths.length > 0)
    .map(([name, m]) => [name, m.paths]),
)

const pickFilters: Record<PickFilter, Electron.FileFilter[]> = {
  'coco-json': [{ name: 'COCO annotations', extensions: ['json'] }],
  'onnx-model': [{ name: 'ONNX models', extensions: ['onnx'] }],
  any: [],
}

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1440,
    height: 900,
    title: productName,
    backgroundColor: '#111318',
    show: false,
    webPreferences: {
      preload: path.join(here, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  })
  win.once('ready-to-show', () => win.show())
  // The renderer never navigates or opens windows; links go to the system browser.
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) void shell.openExternal(url)
    return { action: 'deny' }
  })
  win.webContents.on('will-navigate', (e) => e.preventDefault())
  void win.loadFile(path.join(here, '../renderer/index.html'))
  return win
}

async function start(): Promise<void> {
  const dataDir = resolveDataDir(flag('--data-dir'), process.env)
  let lock: ReturnType<typeof acquireInstanceLock>
  let studio: Studio
  // Paths the user chose in a native picker. Imports accept only these, so a compromised
  // renderer cannot make the host read arbitrary files.
  const granted = new Set<string>()
  const isGranted = (p: string) => [...granted].some((g) => isInside(g, path.resolve(p)))
  try {
    lock = acquireInstanceLock(dataDir, { host: 'electron' })
    const nativeBinding = electronNativeBinding()
    studio = Studio.open({
      dataDir,
      host: 'electron',
      launcher: utilityLauncher,
      ...(nativeBinding ? { nativeBinding } : {}),
      log: (line) => console.log(line),
      overrides: {
        'dialog:pick': async ({ mode, title, filter }) => {
          const filters = mode === 'file' ? pickFilters[filter] : []
          const result = await dialog.showOpenDialog(mainWindow!, {
            title: title ?? (mode === 'file' ? 'Choose a file' : 'Choose a folder'),
            properties: mode === 'file' ? ['openFile'] : ['openDirectory'],
            ...(filters.length > 0 ? { filters } : {}),
          })
          const chosen = result.canceled ? null : (result.filePaths[0] ?? null)
          if (chosen) granted.add(path.resolve(chosen))
          return { path: chosen }
        },
      },
    })
  } catch (err) {
    dialog.showErrorBox(productName, toErrorShape(err).message)
    app.exit(1)
    return
  }
  const baseDispatch = studio.dispatch
  const dispatch = async (method: string, input: unknown) => {
    const pathFields = pathFieldsOf[method]
    if (pathFields && input && typeof input === 'object') {
      const req = input as Record<string, unknown>
      const paths = pathFields.map((k) => req[k]).filter((v): v is string => typeof v === 'string')
      const denied = paths.find((p) => !isGranted(p))
      if (denied) {
        return {
          ok: false,
          error: new AppError(
            'UNAUTHORIZED',
            `Choose ${denied} with the file picker first.`,
          ).toShape(),
        }
      }
    }
    return baseDispatch(method, input)
  }

  protocol.handle(mediaProtocol, async (request) => {
    const url = new URL(request.url)
    const [, kind, idText] = url.pathname.split('/')
    const id = Number(idText)
    if (url.host !== 'media' || !mediaKinds.includes(kind as MediaKind) || !Number.isInteger(id)) {
      return new Response('Bad media URL', { status: 400 })
    }
    try {
      const media = await studio.media.get(kind as MediaKind, id)
      return new Response(new Uint8Array(media.body), {
        headers: { 'content-type': media.contentType },
      })
    } catch (err) {
      const shape = toErrorShape(err)
      return new Response(shape.message, { status: shape.code === 'NOT_FOUND' ? 404 : 422 })
    }
  })

  ipcMain.handle(ipcChannels.invoke, (event, method: unknown, input: unknown) => {
    // Only our own window's top frame may call.
    if (
      !mainWindow ||
      event.sender !== mainWindow.webContents ||
      event.senderFrame !== mainWindow.webContents.mainFrame
    ) {
      return { ok: false, error: { code: 'UNAUTHORIZED', message: 'Unknown caller.' } }
    }
    return dispatch(String(method), input)
  })
  studio.bus.subscribe((ev) => mainWindow?.webContents.send(ipcChannels.event, ev))

  await studio.ensureDemoDatasets()
  studio.ensureDemoModels()
  mainWindow = createWindow()

  app.on('second-instance', () => {
    if (mainWindow) {
      if (mainWindow.isMinimized()) mainWindow.restore()
      mainWindow.focus()
    }
  })
  app.on('window-all-closed', () => app.quit())
  app.on('will-quit', (e) => {
    e.preventDefault()
    void studio.close().finally(() => {
      lock.release()
      app.exit(0)
    })
  })
}

if (!app.requestSingleInstanceLock()) {
  app.quit()
} else {
  void app.whenReady().then(start)
}
