/* ctserver web client. Bundled third-party code: see THIRD-PARTY-LICENSES.txt */
import{e as r}from"./chunk-T7B3IMVA.js";import"./chunk-VMRNLBEV.js";import"./chunk-B4JE6YAE.js";import"./chunk-PYYHDWKS.js";export{r as javascript};
