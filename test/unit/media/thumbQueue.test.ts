/** Issue 14, item 5: thumbnails are served in order, from a bounded queue, and cancellable. */
import { describe, expect, it } from 'vitest'
import { Limiter } from '../../../src-main/core/media'

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms))

describe('the thumbnail queue', () => {
  it('serves waiting requests first in, first out', async () => {
    const limiter = new Limiter(1)
    const order: number[] = []
    await Promise.all(
      [1, 2, 3, 4, 5].map((n) =>
        limiter.run(async () => {
          await tick()
          order.push(n)
        }),
      ),
    )
    expect(order).toEqual([1, 2, 3, 4, 5])
  })

  it('drops a waiting request whose client went away; its work never runs', async () => {
    const limiter = new Limiter(1)
    const ran: number[] = []
    const gone = new AbortController()
    const first = limiter.run(async () => {
      await tick(20)
      ran.push(1)
    })
    const second = limiter.run(async () => void ran.push(2), gone.signal)
    const third = limiter.run(async () => void ran.push(3))
    gone.abort()
    await expect(second).rejects.toMatchObject({ code: 'CANCELLED' })
    await Promise.all([first, third])
    expect(ran).toEqual([1, 3])
    expect(limiter.waiting).toBe(0)
  })

  it('answers at once with a retryable error when the queue is full', async () => {
    const limiter = new Limiter(1, 2)
    const slow = () => limiter.run(() => tick(20))
    const running = [slow(), slow(), slow()]
    await expect(slow()).rejects.toMatchObject({ details: { retryable: true } })
    await Promise.all(running)
  })
})
