/* ctserver web client. Bundled third-party code: see THIRD-PARTY-LICENSES.txt */
import{b as m}from"./chunk-RZ5KA753.js";import"./chunk-T7B3IMVA.js";import"./chunk-VMRNLBEV.js";import"./chunk-5DHEGWHB.js";import"./chunk-B4JE6YAE.js";import"./chunk-PYYHDWKS.js";export{m as html};
