/** A cache tier failing never fails the request: it is logged and the request goes on as a miss. */
export const logCacheError = (what: string) => (err: unknown) => {
  console.error(`gateway: ${what} failed: ${(err as Error)?.message ?? err}`);
  return null;
};
