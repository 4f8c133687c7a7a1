/** The part of the `espeak-ng` package (Emscripten build, no types shipped) that we use. */
declare module 'espeak-ng' {
  interface ESpeakInstance {
    FS: { readFile(path: string, opts?: { encoding?: 'binary' }): Uint8Array };
  }
  export default function ESpeakNg(opts: { arguments: string[] }): Promise<ESpeakInstance>;
}
