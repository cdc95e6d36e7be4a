import assert from "node:assert/strict";
import { fromLegacyParams, LegacyParamsStore, resolvePayload } from "@trainkit/factory";

// An old params.cfg dump: upstream key names, flat.
const old = { N: 128, gridsize: 2, "object.big": false, batch_size: 32, n_groups: 1024, offset: 4 };
const { layer, warnings } = fromLegacyParams(old, { kind: "training", file: "params.json" });
assert.deepEqual(
  warnings.map((w) => w.message),
  ['legacy key "offset" = 4 in params.json is not applied: trainkit does not model it.'],
);

const payload = resolvePayload("training", [
  layer,
  {
    level: "override",
    entries: [
      {
        path: "training.trainDataFile",
        value: "train.npz",
        origin: { kind: "code", argument: "trainDataFile" },
      },
    ],
  },
]);
assert.equal(payload.config.model.objectBig, false);
assert.deepEqual(payload.audit.find((e) => e.path === "model.objectBig")?.origin, {
  kind: "legacy",
  file: "params.json",
  key: "object.big",
});

// The flat dictionary legacy readers get: model flattened in, upstream names, no execution fields.
assert.equal(payload.legacy["object.big"], false);
assert.equal(payload.legacy.output_prefix, "training_outputs");
assert.equal(payload.legacy.train_data_file_path, "train.npz");
assert.equal("learning_rate" in payload.legacy, false);

// One store per process, one bridge per job, old keys never leak into the next job.
const params = new LegacyParamsStore();
await params.withScope(() => {
  params.bridge(payload.legacy);
  assert.equal(params.get("N"), 128);
  assert.throws(() => params.bridge(payload.legacy), /already bridged/);
});
assert.equal(params.has("N"), false);
