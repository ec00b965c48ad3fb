// Per-image metadata from a CSV, checked in the browser with the API's own rules
// (cradlepose.domain.image_metadata) so that every problem is listed, by row and column, before
// anything is sent. The columns are the CLI's `--metadata` ones; only `filename` is required and
// an empty cell says nothing.

export const COLUMNS = ["filename", "age_months", "sex", "session_type", "pseudonym", "acquisition_date", "source_institution"];
const SEXES = ["female", "male", "unknown"];
const MAX_AGE_MONTHS = 240;
const EARLIEST = "1990-01-01";

/** RFC 4180 rows: quoted cells may hold commas, quotes ("") and line breaks. */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let cell = "";
  let quoted = false;
  const src = text.replace(/^\uFEFF/, "");
  for (let i = 0; i < src.length; i += 1) {
    const c = src[i];
    if (quoted) {
      if (c === '"' && src[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && src[i + 1] === "\n") i += 1;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else cell += c;
  }
  if (cell !== "" || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return rows.filter((r) => r.some((v) => v.trim() !== ""));
}

/** Why `value` cannot be an infant pseudonym, or null (the same rule as the API's). */
export function pseudonymProblem(value) {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{1,39}$/.test(value)) return "2-40 letters, digits, '-' or '_', starting with a letter or digit (no spaces)";
  if (!/[0-9]/.test(value)) return "must contain a digit: a pseudonym like 'CP-017', never a name";
  if (/[A-Za-z]{5,}/.test(value)) return "must not hold more than 4 letters in a row: it looks like a name";
  if (/[0-9]{7,}/.test(value)) return "must not hold more than 6 digits in a row: it looks like a record number or a date";
  if (value.toUpperCase().startsWith("MRN")) return "must not be a medical record number";
  return null;
}

function today() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

/**
 * Check one set of values ({age_months, sex, session_type, pseudonym, acquisition_date,
 * source_institution} as strings; empty means unset). Returns {metadata, problems}: metadata in the
 * API's shape ({infant_metadata, acquisition_date, source_institution}, only what was given),
 * problems as [{column, message}].
 */
export function checkValues(values) {
  const problems = [];
  const infant = {};
  const out = {};
  const v = (key) => String(values[key] ?? "").trim();
  if (v("age_months")) {
    const age = Number(v("age_months"));
    if (!Number.isFinite(age) || age < 0 || age > MAX_AGE_MONTHS) problems.push({ column: "age_months", message: `a number of months from 0 to ${MAX_AGE_MONTHS}` });
    else infant.age_months = age;
  }
  if (v("sex")) {
    if (!SEXES.includes(v("sex").toLowerCase())) problems.push({ column: "sex", message: `one of ${SEXES.join(", ")}` });
    else infant.sex = v("sex").toLowerCase();
  }
  if (v("session_type")) {
    if (!/^[A-Za-z0-9][A-Za-z0-9 _-]{0,49}$/.test(v("session_type"))) problems.push({ column: "session_type", message: "1-50 letters, digits, space, '-' or '_'" });
    else infant.session_type = v("session_type");
  }
  if (v("pseudonym")) {
    const why = pseudonymProblem(v("pseudonym"));
    if (why) problems.push({ column: "pseudonym", message: `not a pseudonym: ${why}` });
    else infant.subject_id = v("pseudonym");
  }
  if (v("acquisition_date")) {
    const date = v("acquisition_date");
    const valid = /^\d{4}-\d{2}-\d{2}$/.test(date) && !Number.isNaN(Date.parse(`${date}T00:00:00Z`)) && new Date(`${date}T00:00:00Z`).toISOString().slice(0, 10) === date;
    if (!valid) problems.push({ column: "acquisition_date", message: "a date as YYYY-MM-DD" });
    else if (date < EARLIEST || date > today()) problems.push({ column: "acquisition_date", message: `from ${EARLIEST} to today` });
    else out.acquisition_date = date;
  }
  if (v("source_institution")) {
    // eslint-disable-next-line no-control-regex
    if (v("source_institution").length > 100 || /[\x00-\x1f\x7f]/.test(v("source_institution"))) problems.push({ column: "source_institution", message: "1-100 characters, no control characters" });
    else out.source_institution = v("source_institution");
  }
  if (Object.keys(infant).length) out.infant_metadata = infant;
  return { metadata: out, problems };
}

/**
 * A metadata CSV → {byName: Map(filename → metadata), problems: [{row, column, message}]}.
 * Rows are numbered as a spreadsheet shows them (the header is row 1).
 */
export function readMetadataCsv(text) {
  const rows = parseCsv(text);
  const problems = [];
  const byName = new Map();
  if (!rows.length) return { byName, problems: [{ row: 1, column: "", message: "the file is empty" }] };
  const header = rows[0].map((h) => h.trim().toLowerCase());
  const unknown = header.filter((h) => h && !COLUMNS.includes(h));
  if (unknown.length) problems.push({ row: 1, column: unknown.join(", "), message: `unknown column; the columns are ${COLUMNS.join(", ")}` });
  if (!header.includes("filename")) {
    problems.push({ row: 1, column: "filename", message: "the filename column is required" });
    return { byName, problems };
  }
  rows.slice(1).forEach((cells, i) => {
    const row = i + 2;
    const values = Object.fromEntries(header.map((h, j) => [h, cells[j] ?? ""]));
    const filename = String(values.filename || "").trim();
    if (!filename) {
      problems.push({ row, column: "filename", message: "required" });
      return;
    }
    if (byName.has(filename)) problems.push({ row, column: "filename", message: `${filename} is listed twice` });
    const checked = checkValues(values);
    for (const p of checked.problems) problems.push({ row, ...p });
    byName.set(filename, checked.metadata);
  });
  return { byName, problems };
}
