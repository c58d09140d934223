// Validates Kubernetes manifests (a multi-document YAML stream on stdin, e.g. `kubectl kustomize` output)
// against the API schemas shipped in kubernetes-models. Prints one line per document; exits 1 on any failure.
import { readFileSync } from "node:fs";
import yaml from "js-yaml";

const documents = yaml.loadAll(readFileSync(0, "utf8")).filter((d) => d !== null);
let failures = 0;
for (const document of documents) {
  const { apiVersion, kind } = document;
  const name = `${kind ?? "?"} ${document.metadata?.name ?? "?"} (${apiVersion ?? "?"})`;
  try {
    if (!apiVersion || !kind) throw new Error("apiVersion and kind are required");
    // Core types live under v1; the others under <group>/<version>, one module per kind.
    const models = await import(`kubernetes-models/${apiVersion}`).catch(() => {
      throw new Error(`kubernetes-models has no API version ${apiVersion}`);
    });
    const Model = models[kind];
    if (typeof Model !== "function") throw new Error(`${apiVersion} has no kind ${kind}`);
    new Model(document).validate();
    console.log(`valid ${name}`);
  } catch (error) {
    failures++;
    console.log(`INVALID ${name}: ${error.message}`);
  }
}
if (documents.length === 0) {
  console.log("INVALID: no documents on stdin");
  failures++;
}
process.exit(failures === 0 ? 0 : 1);
