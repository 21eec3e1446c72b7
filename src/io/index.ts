/**
 * Flow files, HAR and export formats: what a program needs to read and write mitmproxy's files.
 *
 *   for await (const flow of new FlowReader('flows.mitm')) ...      // any version, .har, .zhar
 *   writeFlowsToFile('out.mitm', flows);                             // format 21
 *   writeFlowsToFile('for-mitmproxy-8.mitm', flows, { format: 17 });
 *   harToJson(flows); harToFlows(JSON.parse(text));
 *   exportFlow('curl', flow);
 */
export { FlowReader, FlowReadError, MAX_HAR_BYTES, readFlows, readFlowsFromPaths, sniffFlowFile, flowFromDecoded, type FlowSource, type FlowFileKind, type FlowReaderOptions } from './flowreader.js';
export { FlowWriter, encodeFlow, writeFlowsToFile, type WriteFormat, type FlowSink } from './flowwriter.js';
export { migrateFlow, MigrationContext, MigrationError } from './compat.js';
export { conformFlowState, FlowStateError, FLOW_SCHEMAS } from './state-schema.js';
export { downgradeTo17 } from './format17.js';
export { dumps, loads, loadsAll, readItems, ItemSplitter, PyFloat, TNetstringError, pyFloatRepr, type TNetValue, type TNetDict, type TNetInput } from './tnetstring.js';
export { makeHar, harToJson, harToBytes, harPieces, writeHarFile, harToFlows, harEntry, harEntryToFlow, HarImportError, type HarOptions } from './har.js';
export { exportFlow, exportToString, exportToBytes, curlCommand, httpieCommand, rawRequest, rawResponse, raw, shellQuote, EXPORT_FORMATS, type ExportFormat, type ExportOptions } from './export.js';
