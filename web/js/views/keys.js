// Selecting a keypoint by its number: "4" selects the 4th; "1" then "5" within a moment selects
// the 15th (when the schema has that many); "0" alone is the 10th.

const WINDOW_MS = 700;
let buffer = "";
let at = 0;

/** The 1-based keypoint number the digit key selects, or null when `key` is not a digit. */
export function selectByNumber(key, count) {
  if (!/^[0-9]$/.test(key)) return null;
  const now = performance.now();
  const combined = now - at < WINDOW_MS ? buffer + key : key;
  at = now;
  const asTwo = Number(combined);
  if (combined.length === 2 && asTwo >= 1 && asTwo <= count) {
    buffer = "";
    return asTwo;
  }
  buffer = key;
  const single = key === "0" ? 10 : Number(key);
  return single <= count ? single : null;
}
