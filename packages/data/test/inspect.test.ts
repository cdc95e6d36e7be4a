import { describe, expect, it } from "vitest";
import {
  checkDataContract,
  type InspectDataOptions,
  inferProbeSize,
  inspectDataFile,
  readNphotons,
  readNpzHeaders,
} from "../src/index.ts";
import { caught, codeOf, fixture } from "./helpers.ts";

const train: InspectDataOptions = { purpose: "train", probeSize: true, nphotons: true };

describe("inspectDataFile", () => {
  it("gives what readNpzHeaders, checkDataContract, inferProbeSize and readNphotons give apart", async () => {
    for (const name of ["contract_valid.npz", "contract_supervised.npz", "metadata_nphotons.npz"]) {
      const file = fixture(name);
      const facts = await inspectDataFile(file, train);
      const headers = await readNpzHeaders(file);
      expect(facts.headers).toEqual(headers);
      expect(facts.report).toEqual(checkDataContract(headers, { purpose: "train" }));
      if (facts.report.errors.length > 0) continue;
      expect(facts.probeSize).toEqual({ ok: true, value: await inferProbeSize(file) });
      expect(facts.nphotons).toEqual({ ok: true, value: await readNphotons(file) });
    }
  });

  it("reads only what it is asked for", async () => {
    const facts = await inspectDataFile(fixture("contract_valid.npz"), { purpose: "test" });
    expect(facts.probeSize).toBeUndefined();
    expect(facts.nphotons).toBeUndefined();
    const noNphotons = await inspectDataFile(fixture("contract_valid.npz"), { ...train, nphotons: false });
    expect(noNphotons.probeSize).toEqual({
      ok: true,
      value: await inferProbeSize(fixture("contract_valid.npz")),
    });
    expect(noNphotons.nphotons).toBeUndefined();
  });

  it("returns the errors of inferred values, so the contract's errors can be reported first", async () => {
    const facts = await inspectDataFile(fixture("nonsquare_probe.npz"), train);
    expect(facts.probeSize?.ok).toBe(false);
    expect(facts.probeSize?.ok === false && facts.probeSize.error.code).toBe("NON_SQUARE_PROBE");
    // Neither the contract's nor the probe's failure lets it read the metadata.
    expect(facts.nphotons).toBeUndefined();
  });

  it("throws what readNpzHeaders throws for a file it cannot open", async () => {
    expect(codeOf(await caught(() => inspectDataFile(fixture("missing.npz"), train)))).toBe("FILE_NOT_FOUND");
    expect(codeOf(await caught(() => inspectDataFile(fixture("not_a_zip.npz"), train)))).toBe("NOT_A_ZIP");
  });
});
