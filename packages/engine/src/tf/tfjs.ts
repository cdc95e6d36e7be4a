/**
 * The one place that imports TensorFlow.js.
 *
 * `@tensorflow/tfjs` (its Node entry registers every gradient) and the wasm backend are imported here
 * and nowhere else. TensorFlow.js prints a "looks like you are running TensorFlow.js in Node.js,
 * install tfjs-node" banner the first time the cpu backend stores a tensor; that banner (and every
 * other TensorFlow.js warning) goes through its `warn()` helper, which is muted by the `PROD` flag.
 * `PROD` changes nothing else in TensorFlow.js 4.x (it only gates warnings and deprecation notes), so
 * it is set as soon as this module loads, before any tensor can be created.
 */
import * as tf from "@tensorflow/tfjs";
import * as wasmBackend from "@tensorflow/tfjs-backend-wasm";

tf.env().set("PROD", true);

export { tf, wasmBackend };
