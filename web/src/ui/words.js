// Plain words for what the services call by codes: segment names, dates, people.

const SEGMENT_WORDS = {
  demographics: "personal details",
  conditions: "health problems",
  labs: "lab results",
  medications: "medicines",
  allergies: "allergies",
  imaging: "scans and images",
  notes: "doctors' notes",
  insurance: "insurance details",
  immunizations: "vaccinations",
  procedures: "procedures",
  encounters: "visits",
  vitals: "vital signs",
  documents: "documents",
  other: "other information",
};

/** "lab results" for `labs`; the name itself for one we do not know. */
export const segmentWords = (name) => SEGMENT_WORDS[name] ?? name.replaceAll("_", " ");

/** "lab results, medicines and allergies". */
export function listWords(items) {
  const words = items.map(String);
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} and ${words.at(-1)}`;
}

/** "30 June 2027" (a date people read; the time only when it matters). */
export function dayWords(value, withTime = false) {
  if (!value) return "";
  const d = new Date(value);
  const opts = { day: "numeric", month: "long", year: "numeric" };
  if (withTime) Object.assign(opts, { hour: "2-digit", minute: "2-digit" });
  return d.toLocaleString("en-GB", opts);
}

/** "12 kB". */
export function sizeWords(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** A directory entry's name as people say it: "Dr. Ada Lovelace" or the id. */
export function personWords(user) {
  if (!user) return "someone";
  if (!user.display_name) return user.role ? `${user.user_id} (${user.role})` : user.user_id;
  const name = String(user.display_name);
  return user.role === "doctor" && !name.startsWith("Dr") ? `Dr. ${name}` : name;
}
