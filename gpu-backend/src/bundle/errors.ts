/** Any problem with a bundle on disk. The message always names the file and what is wrong with it. */
export class BundleError extends Error {
  constructor(
    /** The file (or directory) at fault. */
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
    this.name = 'BundleError';
  }
}
