// Module workers made from source text, so the sources, the bundle and the binary run the same.

const urls = new Map<string, string>();

/** A new module worker running `source` (its blob URL made once per source). */
export function workerFromSource(source: string): Worker {
  let url = urls.get(source);
  if (url === undefined) {
    url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
    urls.set(source, url);
  }
  return new Worker(url, { type: "module" });
}
