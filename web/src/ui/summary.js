// A patient's FHIR R4 resources as a readable summary: problems, medicines, allergies,
// lab values (a table, and the series of each test over time for the chart).

const text = (cc) => cc?.text ?? cc?.coding?.find((c) => c.display)?.display ?? cc?.coding?.[0]?.code ?? "unnamed";
const code = (cc) => {
  const c = cc?.coding?.[0];
  return c ? `${c.system ?? ""}|${c.code ?? ""}` : text(cc);
};
const when = (r) => r.effectiveDateTime ?? r.effectivePeriod?.start ?? r.issued ?? r.onsetDateTime ?? r.recordedDate ?? r.authoredOn ?? r.meta?.lastUpdated ?? null;

/** Every resource of a Bundle (entries' resources), or a list of resources as given. */
export function resourcesOf(bundleOrList) {
  if (Array.isArray(bundleOrList)) return bundleOrList;
  return (bundleOrList?.entry ?? []).map((e) => e.resource).filter(Boolean);
}

export function summarise(resources) {
  const problems = [];
  const medications = [];
  const allergies = [];
  const labs = [];
  let patient = null;
  for (const r of resources) {
    switch (r.resourceType) {
      case "Patient":
        patient = r;
        break;
      case "Condition":
        problems.push({ name: text(r.code), since: r.onsetDateTime ?? r.recordedDate ?? null, status: text(r.clinicalStatus) });
        break;
      case "MedicationRequest":
      case "MedicationStatement":
        medications.push({ name: text(r.medicationCodeableConcept ?? r.medication?.concept), status: r.status ?? "", since: r.authoredOn ?? r.effectiveDateTime ?? null,
          dosage: r.dosageInstruction?.[0]?.text ?? r.dosage?.[0]?.text ?? "" });
        break;
      case "AllergyIntolerance":
        allergies.push({ name: text(r.code), criticality: r.criticality ?? "", reaction: r.reaction?.[0]?.manifestation?.map(text).join(", ") ?? "" });
        break;
      case "Observation": {
        const q = r.valueQuantity;
        const value = q?.value ?? r.valueString ?? text(r.valueCodeableConcept ?? null);
        labs.push({ name: text(r.code), key: code(r.code), value, unit: q?.unit ?? q?.code ?? "", numeric: typeof q?.value === "number", time: when(r) });
        break;
      }
      default:
        break;
    }
  }
  labs.sort((a, b) => String(a.time).localeCompare(String(b.time)));
  return { patient, problems, medications, allergies, labs };
}

/** The lab test with the most numeric values over time (at least two): for the chart. */
export function chartSeries(labs) {
  const byKey = new Map();
  for (const l of labs) {
    if (!l.numeric || !l.time) continue;
    if (!byKey.has(l.key)) byKey.set(l.key, { name: l.name, unit: l.unit, points: [] });
    byKey.get(l.key).points.push({ time: new Date(l.time), value: l.value });
  }
  const best = [...byKey.values()].sort((a, b) => b.points.length - a.points.length)[0];
  return best && best.points.length >= 2 ? best : null;
}
