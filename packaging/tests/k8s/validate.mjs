// SPDX-License-Identifier: MIT
// Validates Kubernetes manifests offline against the API schemas of the npm package
// kubernetes-models: node validate.mjs FILE.yaml... (exit 1 if any object is invalid).
// kubernetes-models is ESM-only: kubernetes.sh copies this file next to its node_modules.
import { readFileSync } from "node:fs";
import yaml from "js-yaml";

const models = {
  "apps/v1/Deployment": async () => (await import("kubernetes-models/apps/v1")).Deployment,
  "v1/Service": async () => (await import("kubernetes-models/v1")).Service,
  "autoscaling/v2/HorizontalPodAutoscaler": async () =>
    (await import("kubernetes-models/autoscaling/v2")).HorizontalPodAutoscaler,
};

let failed = false;
for (const file of process.argv.slice(2)) {
  for (const doc of yaml.loadAll(readFileSync(file, "utf8"))) {
    if (!doc) continue;
    const key = `${doc.apiVersion}/${doc.kind}`;
    if (!models[key]) {
      console.error(`${file}: no schema for ${key}`);
      failed = true;
      continue;
    }
    const Model = await models[key]();
    try {
      new Model(doc).validate();
      console.log(`${file}: ${key} ${doc.metadata.name} is valid`);
    } catch (err) {
      console.error(`${file}: ${key} ${doc.metadata?.name}: ${err.message}`);
      failed = true;
    }
  }
}
process.exit(failed ? 1 : 0);
