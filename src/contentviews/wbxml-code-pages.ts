/**
 * The tag code pages of Exchange ActiveSync WBXML ([MS-ASWBXML]), with the tag names mitmproxy's
 * WBXML view prints (the same set of pages and tokens, so the two agree on every known tag).
 *
 * Each page is written as one line of words: a hex word ("0x0A") sets the token of the next name,
 * and every name takes the current token and moves it on by one. So "0x05 A B 0x0A C" means
 * A = 0x05, B = 0x06, C = 0x0A. Tag tokens run from 0x05 to 0x3F (the low six bits of a tag byte).
 */

export interface WbxmlCodePage {
  /** The page's name in [MS-ASWBXML] (its XML namespace without the colon). */
  readonly name: string;
  /** Tag names by token (index 0..63); undefined where the page defines no tag. */
  readonly tags: readonly (string | undefined)[];
}

const PAGES: ReadonlyArray<readonly [name: string, spec: string]> = [
  ['AirSync', `0x05 Sync Responses Add Change Delete Fetch SyncKey ClientId ServerId Status Collection Class
    0x12 CollectionId GetChanges MoreAvailable WindowSize Commands Options FilterType
    0x1B Conflict Collections ApplicationData DeletesAsMoves
    0x20 Supported SoftDelete MIMESupport MIMETruncation Wait Limit Partial ConversationMode MaxItems HeartbeatInterval`],
  ['Contacts', `0x05 Anniversary AssistantName AssistantTelephoneNumber Birthday
    0x0C Business2PhoneNumber BusinessCity BusinessCountry BusinessPostalCode BusinessState BusinessStreet
    BusinessFaxNumber BusinessPhoneNumber CarPhoneNumber Categories Category Children Child CompanyName Department
    Email1Address Email2Address Email3Address FileAs FirstName Home2PhoneNumber HomeCity HomeCountry HomePostalCode
    HomeState HomeStreet HomeFaxNumber HomePhoneNumber JobTitle LastName MiddleName MobilePhoneNumber OfficeLocation
    OtherCity OtherCountry OtherPostalCode OtherState OtherStreet PagerNumber RadioPhoneNumber Spouse Suffix Title
    Webpage YomiCompanyName YomiFirstName YomiLastName
    0x3C Picture Alias WeightedRank`],
  ['Email', `0x0F DateReceived
    0x11 DisplayTo Importance MessageClass Subject Read To CC From ReplyTo AllDayEvent Categories Category DTStamp
    EndTime InstanceType BusyStatus Location MeetingRequest Organizer RecurrenceId Reminder ResponseRequested
    Recurrences Recurrence Recurrence_Type Recurrence_Until Recurrence_Occurrences Recurrence_Interval
    Recurrence_DayOfWeek Recurrence_DayOfMonth Recurrence_WeekOfMonth Recurrence_MonthOfYear StartTime Sensitivity
    TimeZone GlobalObjId ThreadTopic
    0x39 InternetCPID Flag FlagStatus ContentClass FlagType CompleteTime DisallowNewTimeProposal`],
  // Retired; mitmproxy knows none of its tags either.
  ['AirNotify', ''],
  ['Calendar', `0x05 TimeZone AllDayEvent Attendees Attendee Attendee_Email Attendee_Name
    0x0D BusyStatus Categories Category
    0x11 DTStamp EndTime Exception Exceptions Exception_Deleted Exception_StartTime Location MeetingStatus
    Organizer_Email Organizer_Name Recurrence Recurrence_Type Recurrence_Until Recurrence_Occurrences
    Recurrence_Interval Recurrence_DayOfWeek Recurrence_DayOfMonth Recurrence_WeekOfMonth Recurrence_MonthOfYear
    Reminder Sensitivity Subject StartTime UID Attendee_Status Attendee_Type
    0x33 DisallowNewTimeProposal ResponseRequested AppointmentReplyTime ResponseType CalendarType IsLeapMonth
    FirstDayOfWeek OnlineMeetingConfLink OnlineMeetingExternalLink`],
  ['Move', '0x05 MoveItems Move SrcMsgId SrcFldId DstFldId Response Status DstMsgId'],
  ['GetItemEstimate', '0x05 GetItemEstimate Version Collections Collection Class CollectionId DateTime Estimate Response Status'],
  ['FolderHierarchy', `0x07 DisplayName ServerId ParentId Type 0x0C Status
    0x0E Changes Add Delete Update SyncKey FolderCreate FolderDelete FolderUpdate FolderSync Count`],
  ['MeetingResponse', '0x05 CalendarId CollectionId MeetingResponse RequestId Request Result Status UserResponse 0x0E InstanceId'],
  ['Tasks', `0x08 Categories Category Complete DateCompleted DueDate UTCDueDate Importance Recurrence Recurrence_Type
    Recurrence_Start Recurrence_Until Recurrence_Occurrences Recurrence_Interval Recurrence_DayOfMonth
    Recurrence_DayOfWeek Recurrence_WeekOfMonth Recurrence_MonthOfYear Recurrence_Regenerate Recurrence_DeadOccur
    ReminderSet ReminderTime Sensitivity StartDate UTCStartDate Subject
    0x22 OrdinalDate SubOrdinalDate CalendarType IsLeapMonth FirstDayOfWeek`],
  ['ResolveRecipients', `0x05 ResolveRecipients Response Status Type Recipient DisplayName EmailAddress Certificates
    Certificate MiniCertificate Options To CertificateRetrieval RecipientCount MaxCertificates MaxAmbiguousRecipients
    CertificateCount Availability StartTime EndTime MergedFreeBusy Picture MaxSize Data MaxPictures`],
  ['ValidateCert', '0x05 ValidateCert Certificates Certificate CertificateChain CheckCRL Status'],
  ['Contacts2', '0x05 CustomerId GovernmentId IMAddress IMAddress2 IMAddress3 ManagerName CompanyMainPhone AccountName NickName MMS'],
  ['Ping', '0x05 Ping AutdState Status HeartbeatInterval Folders Folder Id Class MaxFolders'],
  ['Provision', `0x05 Provision Policies Policy PolicyType PolicyKey Data Status RemoteWipe EASProvisionDoc
    DevicePasswordEnabled AlphanumericDevicePasswordRequired RequireStorageCardEncryption PasswordRecoveryEnabled
    0x13 AttachmentsEnabled MinDevicePasswordLength MaxInactivityTimeDeviceLock MaxDevicePasswordFailedAttempts
    MaxAttachmentSize AllowSimpleDevicePassword DevicePasswordExpiration DevicePasswordHistory AllowStorageCard
    AllowCamera RequireDeviceEncryption AllowUnsignedApplications AllowUnsignedInstallationPackages
    MinDevicePasswordComplexCharacters AllowWiFi AllowTextMessaging AllowPOPIMAPEmail AllowBluetooth AllowIrDA
    RequireManualSyncWhenRoaming AllowDesktopSync MaxCalendarAgeFilter AllowHTMLEmail MaxEmailAgeFilter
    MaxEmailBodyTruncationSize MaxEmailHTMLBodyTruncationSize RequireSignedSMIMEMessages RequireEncryptedSMIMEMessages
    RequireSignedSMIMEAlgorithm RequireEncryptionSMIMEAlgorithm AllowSMIMEEncryptionAlgorithmNegotiation
    AllowSMIMESoftCerts AllowBrowser AllowConsumerEmail AllowRemoteDesktop AllowInternetSharing
    UnapprovedInROMApplicationList ApplicationName ApprovedApplicationList Hash`],
  ['Search', `0x05 Search 0x07 Store Name Query Options Range Status Response Result Properties Total EqualTo Value And Or
    FreeText 0x17 DeepTraversal LongId RebuildResults LessThan GreaterThan
    0x1E UserName Password ConversationId Picture MaxSize MaxPictures`],
  ['GAL', '0x05 DisplayName Phone Office Title Company Alias FirstName LastName HomePhone MobilePhone EmailAddress Picture Status Data'],
  ['AirSyncBase', `0x05 BodyPreference Type TruncationSize AllOrNone
    0x0A Body Data EstimatedDataSize Truncated Attachments Attachment DisplayName FileReference Method ContentId
    ContentLocation IsInline NativeBodyType ContentType Preview BodyPartPreference BodyPart Status`],
  ['Settings', `0x05 Settings Status Get Set Oof OofState StartTime EndTime OofMessage AppliesToInternal
    AppliesToExternalKnown AppliesToExternalUnknown Enabled ReplyMessage BodyType DevicePassword Password
    DeviceInformation Model IMEI FriendlyName OS OSLanguage PhoneNumber UserInformation EmailAddresses SmtpAddress
    UserAgent EnableOutboundSMS MobileOperator PrimarySmtpAddress Accounts Account AccountId AccountName
    UserDisplayName SendDisabled 0x2B RightsManagementInformation`],
  ['DocumentLibrary', '0x05 LinkId DisplayName IsFolder CreationDate LastModifiedDate IsHidden ContentLength ContentType'],
  ['ItemOperations', `0x05 ItemOperations Fetch Store Options Range Total Properties Data Status Response Version Schema
    Part EmptyFolderContents DeleteSubFolders UserName Password Move DstFldId ConversationId MoveAlways`],
  ['ComposeMail', `0x05 SendMail SmartForward SmartReply SaveInSentItems ReplaceMime
    0x0B Source FolderId ItemId LongId InstanceId MIME ClientId Status AccountId`],
  ['Email2', `0x05 UmCallerID UmUserNotes UmAttDuration UmAttOrder ConversationId ConversationIndex LastVerbExecuted
    LastVerbExecutionTime ReceivedAsBcc Sender CalendarType IsLeapMonth AccountId FirstDayOfWeek MeetingMessageType`],
  ['Notes', '0x05 Subject MessageClass LastModifiedDate Categories Category'],
  ['RightsManagement', `0x05 RightsManagementSupport RightsManagementTemplates RightsManagementTemplate
    RightsManagementLicense EditAllowed ReplyAllowed ReplyAllAllowed ForwardAllowed ModifyRecipientsAllowed
    ExtractAllowed PrintAllowed ExportAllowed ProgrammaticAccessAllowed RMOwner ContentExpiryDate TemplateID
    TemplateName TemplateDescription ContentOwner RemoveRightsManagementDistribution`],
];

const HEX_WORD = /^0x[0-9A-F]{2}$/;

function expand(name: string, spec: string): WbxmlCodePage {
  const tags: Array<string | undefined> = new Array<string | undefined>(64).fill(undefined);
  let token = 0;
  for (const word of spec.split(/\s+/)) {
    if (word === '') continue;
    if (HEX_WORD.test(word)) {
      token = parseInt(word, 16);
      continue;
    }
    if (token < 0x05 || token > 0x3f) throw new Error(`WBXML code page ${name}: token 0x${token.toString(16)} out of range`);
    if (tags[token] !== undefined) throw new Error(`WBXML code page ${name}: token 0x${token.toString(16)} defined twice`);
    tags[token] = word;
    token++;
  }
  return { name, tags };
}

/** The ActiveSync code pages, indexed by page number (0..24). */
export const WBXML_CODE_PAGES: readonly WbxmlCodePage[] = PAGES.map(([name, spec]) => expand(name, spec));
