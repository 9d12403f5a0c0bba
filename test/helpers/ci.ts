// Tests whose oracle or tool is missing (Debian's python3 with torch/nibabel/scipy, jupyter, the oneDNN addon, a built
// dist/) skip on a developer's machine, with the reason in their title. Under CI=true the same absence fails the test
// file instead: CI installs everything (scripts/install-system-deps.sh), so a skip there would hide a lost oracle.

/** True on CI (GitHub Actions and most CI systems set CI=true; .ci/run is run with it). Read at each call. */
export function inCI(): boolean {
  return process.env.CI === "true";
}

/**
 * Returns `reason` (null when nothing is missing) for `describe.skipIf(reason !== null)`; under CI=true a non-null
 * reason throws instead, failing the test file that asked.
 * @example const skip = skipUnlessCI(pythonSkipReason(["torch"]));
 */
export function skipUnlessCI(reason: string | null): string | null {
  if (reason !== null && inCI()) throw new Error(`CI=true, but a test oracle or tool is missing: ${reason}`);
  return reason;
}
