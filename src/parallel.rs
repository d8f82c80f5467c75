//! Data-parallel maps on the available cores (at most 8), in input order. Threads take the next
//! item as they finish one, so a few large items (the catalog index, the biggest bundles) do not
//! leave a thread idle while another works through a chunk. A panic in `f` is resumed in the
//! caller.

use std::sync::atomic::{AtomicUsize, Ordering};

/// `items.iter().map(f)`, on several threads when there are at least `min_parallel` items.
pub fn map<T: Sync, R: Send>(items: &[T], min_parallel: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    map_with(items, min_parallel, || (), |(), item| f(item))
}

/// [`map`] with per-thread state made by `init` (a reused buffer, say).
pub fn map_with<T: Sync, S, R: Send>(
    items: &[T],
    min_parallel: usize,
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, &T) -> R + Sync,
) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8).min(items.len());
    if threads < 2 || items.len() < min_parallel {
        let mut state = init();
        return items.iter().map(|item| f(&mut state, item)).collect();
    }
    let next = AtomicUsize::new(0);
    let done: Vec<Vec<(usize, R)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut state = init();
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        out.push((i, f(&mut state, item)));
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
    });
    let mut slots: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    for (i, r) in done.into_iter().flatten() {
        slots[i] = Some(r);
    }
    // Every index below the length was taken by exactly one thread.
    slots.into_iter().map(|r| r.expect("every item mapped")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_the_input_order_on_every_path() {
        let items: Vec<u32> = (0..1000).collect();
        for min in [0, 2000] {
            assert_eq!(super::map(&items, min, |x| x * 2), items.iter().map(|x| x * 2).collect::<Vec<_>>());
        }
        assert!(super::map(&[] as &[u32], 0, |x| *x).is_empty());
    }

    #[test]
    fn each_thread_keeps_its_own_state() {
        let items: Vec<usize> = (0..500).collect();
        let lens = super::map_with(&items, 0, Vec::new, |buf: &mut Vec<usize>, x| {
            buf.clear();
            buf.extend(0..*x);
            buf.len()
        });
        assert_eq!(lens, items);
    }

    #[test]
    #[should_panic(expected = "item 7")]
    fn a_panic_reaches_the_caller() {
        let items: Vec<u32> = (0..100).collect();
        super::map(&items, 0, |x| if *x == 7 { panic!("item 7") } else { *x });
    }
}
