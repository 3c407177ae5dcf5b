/* ctserver web client. Bundled third-party code: see THIRD-PARTY-LICENSES.txt */
import{b as o}from"./chunk-5DHEGWHB.js";import"./chunk-B4JE6YAE.js";import"./chunk-PYYHDWKS.js";export{o as css};
