// Methods of the core area: liveness, method listing, events, jobs, connection options.

import type { MethodDef } from "../method.js";
import { corePing } from "./ping.js";
import { coreGetMethods } from "./get-methods.js";
import { coreSubscribe, coreUnsubscribe } from "./subscribe.js";
import { coreSetOptions } from "./set-options.js";
import { coreGetJobs, coreJobAbort, coreJobWait } from "./jobs.js";
import { coreBulk } from "./bulk.js";

export const coreMethods: MethodDef[] = [corePing, coreGetMethods, coreSubscribe, coreUnsubscribe, coreSetOptions, coreGetJobs, coreJobWait, coreJobAbort, coreBulk];
